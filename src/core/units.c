/* units.c — physical lengths with units ("300mm", "8.5in") for the size and
 * cut options (docs/vector.md). */
#include "core.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MM_PER_IN 25.4
#define LENGTH_MAX_MM 10000.0 /* 10 m: larger is a typo, not a print */

static const struct {
    const char *name;
    double mm;
} units[] = {
    {"mm", 1.0}, {"cm", 10.0}, {"in", MM_PER_IN}, {"pt", MM_PER_IN / 72.0}, {"px", MM_PER_IN / 96.0},
};

int carve__parse_length(const char *s, double *mm, char unit[4], char *err, size_t errlen) {
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v)) {
        snprintf(err, errlen, "'%s' is not a length (a number and a unit: mm, cm, in, pt or px, e.g. 300mm)", s);
        return -1;
    }
    while (*end == ' ') end++;
    if (!*end) {
        snprintf(err, errlen, "'%s' has no unit (give mm, cm, in, pt or px, e.g. %gmm)", s, v);
        return -1;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].name)) continue;
        double m = v * units[i].mm;
        if (!(m > 0)) {
            snprintf(err, errlen, "'%s' must be more than 0", s);
            return -1;
        }
        if (m > LENGTH_MAX_MM) {
            snprintf(err, errlen, "'%s' is more than 10 m", s);
            return -1;
        }
        *mm = m;
        if (unit) snprintf(unit, 4, "%s", units[i].name);
        return 0;
    }
    snprintf(err, errlen, "'%s': unknown unit '%s' (mm, cm, in, pt or px)", s, end);
    return -1;
}
