/* fake_ort.c — stand-ins for libonnxruntime in test_nn: built as
 * fake_ort_old (an "ONNX Runtime 1.10.0" whose GetApi refuses carve's API
 * version) and, with -DNOT_ORT, fake_not_ort (a library without
 * OrtGetApiBase). */
#include <stddef.h>
#include <stdint.h>

#ifndef NOT_ORT
typedef struct fake_base {
    const void *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} fake_base;

static const void *get_api(uint32_t version) {
    (void)version;
    return NULL; /* "this version is unsupported" */
}
static const char *version_string(void) { return "1.10.0"; }
static const fake_base base = {get_api, version_string};

const fake_base *OrtGetApiBase(void);
const fake_base *OrtGetApiBase(void) { return &base; }
#else
int carve_fake_not_ort(void);
int carve_fake_not_ort(void) { return 42; }
#endif
