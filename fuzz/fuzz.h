/* fuzz.h — shared by carve's libFuzzer targets (fuzz_*.c) and the replay
 * driver (replay.c) that runs their corpora as ordinary tests. */
#ifndef CARVE_FUZZ_H
#define CARVE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold: abort (libFuzzer/the driver report a crash). */
#define FUZZ_ASSERT(cond)                                                                      \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz: property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#endif
