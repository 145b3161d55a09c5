/* vector.h — phase 4 internals beyond the public API (carve_trace). */
#ifndef CARVE_VECTOR_H
#define CARVE_VECTOR_H
#include "core.h"

#endif
