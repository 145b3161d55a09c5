/* test.h — a tiny test harness: CHECK macros, per-test counts, and the
 * plain closing line "N passed, N failed" that CI reads. */
#ifndef CARVE_TEST_H
#define CARVE_TEST_H

#include "carve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_pass, t_fail;
static const char *t_name = "";

#define CHECK(cond) do { if (cond) t_pass++; else { t_fail++; \
    fprintf(stderr, "FAIL %s (%s:%d): %s\n", t_name, __FILE__, __LINE__, #cond); } } while (0)
#define CHECKF(cond, ...) do { if (cond) t_pass++; else { t_fail++; \
    fprintf(stderr, "FAIL %s (%s:%d): %s: ", t_name, __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_ST(st, want) do { carve_status s_ = (st); if (s_ == (want)) t_pass++; else { t_fail++; \
    fprintf(stderr, "FAIL %s (%s:%d): %s = %d (%s), want %d\n", t_name, __FILE__, __LINE__, #st, s_, \
            carve_strerror(s_), (int)(want)); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); if (fabs(a_ - b_) <= (tol)) t_pass++; else { \
    t_fail++; fprintf(stderr, "FAIL %s (%s:%d): %s = %.6f, want %.6f +- %g\n", t_name, __FILE__, __LINE__, #a, \
    a_, b_, (double)(tol)); } } while (0)

#define RUN(fn) do { t_name = #fn; int f0_ = t_fail; fn(); \
    fprintf(stderr, "%s %s\n", t_fail == f0_ ? "ok  " : "FAIL", #fn); } while (0)

static inline int test_done(void) {
    printf("%d passed, %d failed\n", t_pass, t_fail);
    return t_fail ? 1 : 0;
}

/* tests/data: the bundled photos (samples/) and reference tables (set by meson). */
#ifndef CARVE_TEST_DATA
#define CARVE_TEST_DATA "tests/data"
#endif

#endif
