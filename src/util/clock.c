/* clock.c — the monotonic clock (carve_util.h). */
#include "carve_util.h"

#include <time.h>

double carve__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
