/* map.c — exact minimum-CIEDE2000 mapping to a palette.
 *
 * Exactness: the answer for a colour is always the one a brute-force scan
 * with carve_ciede2000() gives (least value, ties to the lower index).  Speed
 * comes from three things that never change that answer:
 *   1. memoisation per distinct 24-bit colour (a photo has far fewer distinct
 *      colours than pixels), the distinct colours found with a 2^24-bit set;
 *   2. threads over the distinct colours and over pixel bands (each item
 *      writes only its own outputs, so results do not depend on threads);
 *   3. proven lower and upper bounds on CIEDE2000 (the quick bound, then
 *      fine_bounds2(), with bounds2() as fallback): entries whose lower bound
 *      exceeds the least upper bound cannot win; when one entry is left it
 *      is the answer, otherwise the survivors (near-ties) are compared with
 *      carve_ciede2000() itself.  See docs/chroma.md.
 */
#include "chroma.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static atomic_ullong map_evals;

uint64_t carve__map_evals(void) { return atomic_load_explicit(&map_evals, memory_order_relaxed); }

void carve__lab_pal_init(carve__lab_pal *lp, const double (*lab)[3], int n) {
    lp->n = n;
    for (int i = 0; i < n; i++) {
        lp->lab[i][0] = lab[i][0];
        lp->lab[i][1] = lab[i][1];
        lp->lab[i][2] = lab[i][2];
        lp->chroma[i] = hypot(lab[i][1], lab[i][2]);
        lp->L[i] = lab[i][0];
        lp->A[i] = lab[i][1];
        lp->B[i] = lab[i][2];
    }
}

int carve__lab_pal_nearest_brute(const carve__lab_pal *lp, const double lab[3]) {
    int best = 0;
    double bd = INFINITY;
    for (int i = 0; i < lp->n; i++) {
        double d = carve_ciede2000(lab, lp->lab[i]);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

/* Bounds on CIEDE2000(p, q)^2 (notation of Sharma et al. 2005):
 *   dE^2 = tl^2 + tc^2 + th^2 + RT*tc*th,  tl = dL'/SL, tc = dC'/SC, th = dH'/SH.
 * tl, G, a', C', dC', SC and RC are recomputed here (cheaply: powers by
 * multiplication, no trigonometry).  What is not recomputed is bounded:
 *  - dH'^2 = |(a1',b1) - (a2',b2)|^2 - dC'^2 (law of cosines: dC'^2 + dH'^2
 *    is the squared distance of the two points in the a'b' plane);
 *  - T and |sin(2 dtheta)| (dtheta = 30 exp(-((h'-275)/25)^2)) depend only
 *    on the mean hue h'.  When both hues lie in the same octant (same
 *    quadrant) of the a'b' plane, so does their mean (an achromatic colour
 *    has h = 0 and the mean is then the other hue), and T and |sin 2dtheta|
 *    are bounded by their extremes over that octant (quadrant), tabulated
 *    below from a 200 001-point scan of each range, padded by 1e-3 (T'
 *    is at most 2.4 per radian, so the scan is off by < 1e-4);
 *  - |RT| = RC |sin 2dtheta| <= r and tc^2 + th^2 + RT tc th lies between
 *    (1 - r/2)(tc^2 + th^2) and (1 + r/2)(tc^2 + th^2);
 *  - SH = 1 + 0.015 C' T lies between its values at Tmin and Tmax.
 * Callers compare with a relative margin, so rounding differences between
 * these formulas and carve_ciede2000() can never exclude a true winner. */
typedef struct hue_range { double tlo, thi, sn; } hue_range;
static const hue_range OCTANT[8] = {
    {0.6769, 1.3212, 0.000001}, {0.5776, 0.6789, 0.000001}, {0.6167, 1.3372, 0.000001},
    {0.9772, 1.3892, 0.000002}, {0.9388, 1.5047, 0.019199}, {0.7198, 1.5735, 0.845616},
    {0.3611, 0.8464, 0.8660254038}, {0.8444, 1.4466, 0.080947},
};
static const hue_range QUADRANT[4] = {
    {0.5776, 1.3212, 0.000001}, {0.6167, 1.3892, 0.000002},
    {0.7198, 1.5735, 0.845616}, {0.3611, 1.4466, 0.8660254038},
};
static const hue_range UPPER_HALF = {0.5776, 1.3892, 0.000002}; /* both b >= 0: hues in [0,180] */
static const hue_range ALL_HUES = {0.3611, 1.5735, 0.8660254038};

/* Octant of the hue atan2(b, a) mapped to [0,360) as carve_ciede2000 does
 * (b = -0.0 counts as b >= 0, like atan2 there). */
static inline int octant_of(double a, double b) {
    if (b >= 0) return a >= 0 ? (b <= a ? 0 : 1) : (b >= -a ? 2 : 3);
    return a < 0 ? (-b <= -a ? 4 : 5) : (-b >= a ? 6 : 7);
}

#define POW25_7 6103515625.0 /* 25^7 */

/* The CIEDE2000 terms both bounds start from: the lightness term dL'/SL and
 * the colours' a' (G-scaled a) and C'. */
typedef struct de_prime {
    double tl;     /* dL' / SL */
    double a1, a2; /* a' */
    double C1, C2; /* C' */
} de_prime;

static inline de_prime de_prime_of(const double p[3], double pc, const double q[3], double qc) {
    de_prime d;
    double dL = q[0] - p[0];
    double Lbp = (p[0] + q[0]) * 0.5;
    double Lm = (Lbp - 50) * (Lbp - 50);
    double SL = 1 + 0.015 * Lm / sqrt(20 + Lm);
    d.tl = dL / SL;
    double Cb = (pc + qc) * 0.5, Cb2 = Cb * Cb, Cb7 = Cb2 * Cb2 * Cb2 * Cb;
    double G1 = 1 + 0.5 * (1 - sqrt(Cb7 / (Cb7 + POW25_7)));
    d.a1 = G1 * p[1], d.a2 = G1 * q[1];
    d.C1 = sqrt(d.a1 * d.a1 + p[2] * p[2]), d.C2 = sqrt(d.a2 * d.a2 + q[2] * q[2]);
    return d;
}

static inline void bounds2(const double p[3], double pc, const double q[3], double qc, double *lo, double *hi) {
    de_prime d = de_prime_of(p, pc, q, qc);
    double tl = d.tl, a1 = d.a1, a2 = d.a2, C1 = d.C1, C2 = d.C2;
    double dC = C2 - C1, da = a2 - a1, db = q[2] - p[2];
    double dH2 = da * da + db * db - dC * dC;
    if (dH2 < 0) dH2 = 0;
    const hue_range *hr;
    if (C1 == 0 && C2 == 0) {
        hr = &OCTANT[0];
    } else {
        int o1 = C1 == 0 ? -1 : octant_of(a1, p[2]), o2 = C2 == 0 ? -1 : octant_of(a2, q[2]);
        if (o1 < 0) o1 = o2;
        if (o2 < 0) o2 = o1;
        if (o1 == o2) hr = &OCTANT[o1];
        else if (o1 / 2 == o2 / 2) hr = &QUADRANT[o1 / 2];
        else if (p[2] >= 0 && q[2] >= 0) hr = &UPPER_HALF;
        else hr = &ALL_HUES;
    }
    double Cbp = (C1 + C2) * 0.5, Cbp2 = Cbp * Cbp, Cbp7 = Cbp2 * Cbp2 * Cbp2 * Cbp;
    double SC = 1 + 0.045 * Cbp;
    double SHmax = 1 + 0.015 * hr->thi * Cbp, SHmin = 1 + 0.015 * hr->tlo * Cbp;
    double RC = 2 * sqrt(Cbp7 / (Cbp7 + POW25_7));
    double r = RC * hr->sn;
    double tc2 = dC * dC / (SC * SC);
    *lo = tl * tl + (1 - 0.5 * r - 1e-9) * (tc2 + dH2 / (SHmax * SHmax));
    *hi = tl * tl + (1 + 0.5 * r + 1e-9) * (tc2 + dH2 / (SHmin * SHmin));
}

/* Near-exact bounds: the same quantities, with the hue terms computed
 * without per-colour trigonometry instead of bounded by ranges.
 *  - The mean hue h' of Sharma's rules (the mean along the shorter arc;
 *    for an achromatic colour, the other hue) points along u1 + u2, the sum
 *    of the two unit vectors (a'/C', b/C').  With cos h', sin h' from it,
 *    T = 1 - .17 cos(h'-30) + .24 cos 2h' + .32 cos(3h'+6) - .20 cos(4h'-63)
 *    follows from the multiple-angle formulas.  Hues nearly opposite
 *    (|u1 + u2|^2 < 0.01, i.e. more than ~174 degrees apart) make that
 *    direction ill-conditioned: those pairs use bounds2() instead.
 *  - dH' = 2 sqrt(C1'C2') sin(dh'/2) has the sign of the cross product
 *    a1' b2 - b1 a2' and the magnitude sqrt(dH'^2) (law of cosines).
 *  - RT needs h' in degrees only when the mean hue is below the a' axis
 *    (sin h' < 0) and the octant bound of |RT| is not already under 1 %:
 *    then h' = atan2 and dtheta are computed as in the formula;
 *    within 1 degree of the 0/360 wrap (where Sharma's rules may give 0 and
 *    this computation 359.99..) |sin 2dtheta| < 2e-5 is used as a bound; above
 *    the a' axis |sin 2dtheta| < 2e-6 (mean hue >= 95 degrees from 275).
 * Every step is an algebraic identity of the CIEDE2000 definition evaluated
 * in double precision (relative rounding ~1e-15 per step, the worst
 * conditioned step being the law-of-cosines subtraction, absolute error
 * ~1e-15 (da^2 + db^2)); the result is widened by a relative 1e-9, far
 * beyond those rounding errors, and callers add another margin. */
static inline void fine_bounds2(const double p[3], double pc, const double q[3], double qc, double *lo, double *hi) {
    const double D2R = 0.017453292519943295;
    de_prime d = de_prime_of(p, pc, q, qc);
    double tl = d.tl, a1 = d.a1, a2 = d.a2, b1 = p[2], b2 = q[2], C1 = d.C1, C2 = d.C2;
    double dC = C2 - C1;
    double c, sn, dH;
    if (C1 == 0 || C2 == 0) {
        dH = 0;
        if (C1 == 0 && C2 == 0) {
            c = 1;
            sn = 0;
        } else {
            double C = C1 == 0 ? C2 : C1;
            c = (C1 == 0 ? a2 : a1) / C;
            sn = (C1 == 0 ? b2 : b1) / C;
        }
    } else {
        double sx = a1 / C1 + a2 / C2, sy = b1 / C1 + b2 / C2, n2 = sx * sx + sy * sy;
        if (n2 < 0.01) {
            bounds2(p, pc, q, qc, lo, hi);
            return;
        }
        double inv = 1 / sqrt(n2);
        c = sx * inv;
        sn = sy * inv;
        double da = a2 - a1, db = b2 - b1;
        double dH2 = da * da + db * db - dC * dC;
        dH = dH2 > 0 ? sqrt(dH2) : 0;
        if (a1 * b2 - b1 * a2 < 0) dH = -dH;
    }
    /* T from cos/sin of the mean hue (multiple angles) */
    double c2 = 2 * c * c - 1, s2 = 2 * sn * c;
    double c3 = c * (4 * c * c - 3), s3 = sn * (3 - 4 * sn * sn);
    double c4 = 2 * c2 * c2 - 1, s4 = 2 * s2 * c2;
    const double cos30 = 0.8660254037844387, sin30 = 0.5;
    const double cos6 = 0.9945218953682733, sin6 = 0.10452846326765347;
    const double cos63 = 0.45399049973954675, sin63 = 0.8910065241883679;
    double T = 1 - 0.17 * (c * cos30 + sn * sin30) + 0.24 * c2 + 0.32 * (c3 * cos6 - s3 * sin6) -
               0.20 * (c4 * cos63 + s4 * sin63);
    double Cbp = (C1 + C2) * 0.5, Cbp2 = Cbp * Cbp, Cbp7 = Cbp2 * Cbp2 * Cbp2 * Cbp;
    double SC = 1 + 0.045 * Cbp, SH = 1 + 0.015 * Cbp * T;
    double RC = 2 * sqrt(Cbp7 / (Cbp7 + POW25_7));
    double tc = dC / SC, th = dH / SH;
    double base = tl * tl + tc * tc + th * th;
    double rt = 0, rbound = 0;
    if (sn >= 0) {
        rbound = 2e-6 * RC;
    } else if (RC * OCTANT[c < 0 ? (-sn <= -c ? 4 : 5) : (-sn >= c ? 6 : 7)].sn < 0.01) {
        /* |RT| below 1 %: its octant bound is enough (no trigonometry) */
        rbound = RC * OCTANT[c < 0 ? (-sn <= -c ? 4 : 5) : (-sn >= c ? 6 : 7)].sn;
    } else {
        double h = atan2(sn, c) / D2R + 360; /* sn < 0: in (180, 360) */
        if (h > 359) {
            rbound = 2e-5 * RC;
        } else {
            double x = (h - 275) / 25;
            double dtheta = 30 * exp(-x * x);
            rt = -sin(2 * dtheta * D2R) * RC;
        }
    }
    double cross = rt * tc * th, slack = rbound * fabs(tc * th);
    *lo = (base + cross - slack) * (1 - 1e-9);
    *hi = (base + cross + slack) * (1 + 1e-9);
    if (*lo < 0) *lo = 0;
}

/* The quick bound, evaluated for every entry (vectorised, in
 * carve__lab_pal_nearest):  dE^2 >= (dL/SL)^2 + k (da^2 + db^2) / SCmax^2.
 *  - SL = 1 + 0.015 Lm / sqrt(20 + Lm) <= 1 + 0.015 sqrt(Lm) = 1 + 0.015 |Lmean - 50|;
 *  - tc^2 + th^2 + RT tc th >= (1 - |RT|/2)(tc^2 + th^2) =: k (tc^2 + th^2):
 *    |RT| < 4e-6 when b1, b2 >= 0 (see bounds2), k = 0.999998; otherwise
 *    |RT| <= RC sin 60deg with RC = 2 sqrt(C'^7/(C'^7 + 25^7)) increasing in the
 *    mean C' <= Cm: Cm < 10, 15, 20 give RC < 0.08095, 0.3300, 0.8327 and
 *    k = 0.9649, 0.8570, 0.6394; else k = 1 - sqrt(3)/2 > 0.13397;
 *  - SH < SC (T <= 1.5735 < 3), so tc^2 + th^2 >= (dC'^2 + dH'^2) / SC^2;
 *  - dC'^2 + dH'^2 = (1+G)^2 da^2 + db^2 >= da^2 + db^2;
 *  - mean C' <= Cm = (1+G)(C1 + C2)/2 (C' <= (1+G) C), so SC <= 1 + 0.045 Cm;
 *    G decreases with Cb = (C1+C2)/2: G <= 0.5, G(25) = 0.14645,
 *    G(40) = 0.00906. */

/* Margin between a squared bound and a squared distance: covers rounding in
 * the bounds (including the cancellation in dH'^2) and in carve_ciede2000. */
static inline double margin2(double d) { return d * d * (1 + 1e-9) + 1e-9; }
static inline double margin2sq(double d2) { return d2 * (1 + 1e-9) + 1e-9; }

int carve__lab_pal_nearest(const carve__lab_pal *lp, const double lab[3], int hint) {
    int n = lp->n;
    if (n <= 1) return 0;
    double pc = hypot(lab[1], lab[2]);
    if (hint < 0 || hint >= n) hint = 0;
    /* 1. the hint (usually the answer of a neighbouring colour) through an
     *    upper bound: entries whose lower bound exceeds it cannot win.  If
     *    none is left the hint is the strict winner, with no exact
     *    evaluation at all. */
    double lo, ub2;
    fine_bounds2(lab, pc, lp->lab[hint], lp->chroma[hint], &lo, &ub2);
    double thr = margin2sq(ub2);
    int cand[CARVE_PALETTE_MAX];
    double clo[CARVE_PALETTE_MAX];
    unsigned char pass[CARVE_PALETTE_MAX];
    int nc = 0;
    /* the quick bound (comment above margin2) > thr, rearranged without
     * division, one array per component so the compiler can vectorise it */
    double pL = lab[0], pa = lab[1], pb = lab[2];
    for (int i = 0; i < n; i++) {
        double dL = lp->L[i] - pL, da = lp->A[i] - pa, db = lp->B[i] - pb;
        double SL = 1 + 0.015 * fabs((lp->L[i] + pL) * 0.5 - 50);
        double Cs = pc + lp->chroma[i];
        double g = Cs < 50 ? 1.5 : Cs < 80 ? 1.1465 : 1.0091; /* 1 + G bound from Cb = Cs/2 */
        double Cm = 0.5 * g * Cs;                              /* >= mean C' */
        double SC = 1 + 0.045 * Cm;
        double kf = (pb >= 0 && lp->B[i] >= 0) ? 0.999998
                  : Cm < 10 ? 0.9649 : Cm < 15 ? 0.8570 : Cm < 20 ? 0.6394 : 0.13397;
        double SL2 = SL * SL, SC2 = SC * SC;
        pass[i] = dL * dL * SC2 + kf * (da * da + db * db) * SL2 <= thr * SL2 * SC2;
    }
    cand[nc] = hint;
    clo[nc++] = lo;
    for (int i = 0; i < n; i++) {
        if (!pass[i] || i == hint) continue;
        double hi;
        fine_bounds2(lab, pc, lp->lab[i], lp->chroma[i], &lo, &hi);
        if (lo > thr) continue;
        cand[nc] = i;
        clo[nc++] = lo;
        if (hi < ub2) {
            ub2 = hi;
            thr = margin2sq(ub2);
        }
    }
    /* only those the least upper bound does not exclude; one left: it is the
     * strict winner, no exact evaluation needed */
    int k = 0;
    for (int c = 0; c < nc; c++)
        if (clo[c] <= thr) {
            cand[k] = cand[c];
            clo[k++] = clo[c];
        }
    if (k == 1) return cand[0];
    nc = k;
    /* 2. otherwise (near-ties) exactly, ties to the lower index */
    int best = -1;
    double bd = INFINITY;
    unsigned evals = 0;
    for (int c = 0; c < nc; c++) {
        int i = cand[c];
        if (best >= 0 && clo[c] > margin2(bd)) continue;
        double d = carve_ciede2000(lab, lp->lab[i]);
        evals++;
        if (d < bd || (d == bd && i < best)) {
            bd = d;
            best = i;
        }
    }
    atomic_fetch_add_explicit(&map_evals, evals, memory_order_relaxed);
    return best >= 0 ? best : 0; /* best < 0 only for NaN input */
}

/* ---- whole images ----------------------------------------------------------- */
#define BAND_ROWS 64
#define CHUNK_COLORS 4096

typedef struct map_job {
    const carve_image *in;
    const carve__lab_pal *lp;
    uint64_t *present;     /* 2^24 bits */
    uint32_t *distinct;    /* sorted distinct opaque colours */
    int64_t ndistinct;
    uint8_t *lut;          /* 2^24 entries, only those of distinct colours written */
    uint16_t *idx;
    carve_ctx *ctx;
} map_job;

static int solve_chunk(void *arg, int64_t c) {
    map_job *j = arg;
    if (carve__cancelled(j->ctx)) return 1;
    int64_t a = c * CHUNK_COLORS, b = a + CHUNK_COLORS;
    if (b > j->ndistinct) b = j->ndistinct;
    int hint = -1;
    for (int64_t i = a; i < b; i++) {
        uint32_t rgb = j->distinct[i];
        double lab[3];
        carve__rgb8_to_lab((uint8_t)(rgb >> 16), (uint8_t)(rgb >> 8), (uint8_t)rgb, lab);
        hint = carve__lab_pal_nearest(j->lp, lab, hint);
        j->lut[rgb] = (uint8_t)hint;
    }
    return 0;
}

static int fill_band(void *arg, int64_t band) {
    map_job *j = arg;
    int w = j->in->w, h = j->in->h;
    int y0 = (int)band * BAND_ROWS, y1 = y0 + BAND_ROWS;
    if (y1 > h) y1 = h;
    for (int y = y0; y < y1; y++) {
        const uint8_t *p = j->in->px + (size_t)y * w * 4;
        uint16_t *o = j->idx + (size_t)y * w;
        for (int x = 0; x < w; x++, p += 4)
            o[x] = p[3] < 128 ? CARVE__LABEL_VOID : j->lut[(uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]];
    }
    return 0;
}

carve_status carve__map_indices(carve_ctx *ctx, const carve_image *in, const carve__lab_pal *lp, uint16_t *idx) {
    size_t npx = (size_t)in->w * in->h;
    if (npx == 0) return CARVE_OK;
    if (lp->n < 1) return carve__fail(ctx, CARVE_ERR_PALETTE, "the palette has no colours");
    carve_status st = carve__progress(ctx, 0, "map");
    if (st) return st;
    map_job j = {.in = in, .lp = lp, .idx = idx, .ctx = ctx};
    j.present = calloc((size_t)1 << 18, sizeof(uint64_t));
    j.lut = malloc((size_t)1 << 24);
    if (!j.present || !j.lut) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (colour tables)");
        goto done;
    }
    /* 1. the set of distinct opaque colours */
    const uint8_t *p = in->px;
    for (size_t i = 0; i < npx; i++, p += 4) {
        if (p[3] < 128) continue;
        uint32_t c = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        j.present[c >> 6] |= (uint64_t)1 << (c & 63);
    }
    int64_t nd = 0;
    for (size_t w = 0; w < ((size_t)1 << 18); w++) nd += __builtin_popcountll(j.present[w]);
    j.distinct = malloc(sizeof(uint32_t) * (size_t)(nd ? nd : 1));
    if (!j.distinct) {
        st = carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory (colour list)");
        goto done;
    }
    int64_t k = 0;
    for (size_t w = 0; w < ((size_t)1 << 18); w++) {
        uint64_t bits = j.present[w];
        while (bits) {
            int b = __builtin_ctzll(bits);
            bits &= bits - 1;
            j.distinct[k++] = (uint32_t)(w * 64 + (size_t)b);
        }
    }
    j.ndistinct = nd;
    st = carve__progress(ctx, 0.15, "map");
    if (st) goto done;
    /* 2. the nearest palette entry of each distinct colour */
    int threads = carve__threads(ctx);
    int64_t nchunks = (nd + CHUNK_COLORS - 1) / CHUNK_COLORS;
    /* in slices so progress and cancellation stay responsive */
    int64_t slice = threads * 8;
    for (int64_t c0 = 0; c0 < nchunks; c0 += slice) {
        int64_t c1 = c0 + slice < nchunks ? c0 + slice : nchunks;
        map_job sub = j;
        sub.distinct = j.distinct + c0 * CHUNK_COLORS;
        sub.ndistinct = nd - c0 * CHUNK_COLORS;
        if (carve__parallel_for(threads, c1 - c0, solve_chunk, &sub)) {
            st = carve__progress(ctx, 0.15, "map"); /* sets the cancelled message */
            if (!st) st = carve__fail(ctx, CARVE_ERR_CANCELLED, "cancelled");
            goto done;
        }
        st = carve__progress(ctx, 0.15 + 0.75 * (double)c1 / (double)nchunks, "map");
        if (st) goto done;
    }
    /* 3. every pixel from the table */
    carve__parallel_for(threads, (in->h + BAND_ROWS - 1) / BAND_ROWS, fill_band, &j);
    st = carve__progress(ctx, 1, "map");
done:
    free(j.present);
    free(j.lut);
    free(j.distinct);
    return st;
}
