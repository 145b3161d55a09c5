/* subject.c — which vehicle(s) the illustration is of.
 *
 * auto: every vehicle detection gets a prominence = score x area x
 * (0.5 + 0.5 centrality) x (0.6 + 0.4 sharpness); the most prominent is the
 * subject, and up to two more join it when their prominence is at least
 * AUTO_SIMILAR of the first (vehicles sharing the frame).  Score x area
 * alone chose the labelled vehicle in 29 of 30 street photos (issue 9);
 * centrality and sharpness only break near-ties (a parked car in focus at
 * the centre against a blurred one at the edge).  Duplicates (a "car" and a
 * "truck" box on the same vehicle) are skipped. */
#include "pipeline/subject.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_AREA 0.002    /* vehicles smaller than this share of the image are never the subject */
#define MIN_AREA_ALL 0.005 /* subject=all: "every vehicle above a size" */
#define MIN_SCORE 0.25    /* detections below are reported, not chosen */
#define AUTO_SIMILAR 0.6  /* a second/third vehicle joins at this share of the first's prominence */
#define AUTO_MAX 3        /* auto keeps at most this many vehicles */
#define DUP_IOU 0.6       /* two boxes this similar are one vehicle */
#define SHARP_SAMPLES 4096 /* Laplacian samples per box */
#define OCCLUDER_FEET 0.12 /* an occluder's box ends in the bottom 12 % of the vehicle's box or below */

bool carve__is_vehicle(const char *k) {
    static const char *const v[] = {"car", "bus", "truck", "motorcycle", "bicycle", "train"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!strcmp(k, v[i])) return true;
    return false;
}

static double box_area(const carve__box *b) { return (double)b->w * b->h; }

static double inter_area(const carve__box *a, const carve__box *b) {
    int x0 = a->x > b->x ? a->x : b->x, y0 = a->y > b->y ? a->y : b->y;
    int x1 = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
    int y1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    return x1 > x0 && y1 > y0 ? (double)(x1 - x0) * (y1 - y0) : 0;
}

/* The same vehicle: boxes nearly equal, or one inside the other with a
 * similar size (a car/truck double detection). */
bool carve__subject_same(const carve__box *a, const carve__box *b) {
    double i = inter_area(a, b), aa = box_area(a), ab = box_area(b);
    double sm = aa < ab ? aa : ab, lg = aa < ab ? ab : aa;
    if (i / (aa + ab - i) > DUP_IOU) return true;
    return i >= 0.9 * sm && sm >= 0.5 * lg;
}

static inline int grey_at(const carve_image *img, int x, int y) {
    const uint8_t *p = img->px + 4 * ((size_t)y * img->w + x);
    return (p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8;
}

/* Mean |4-neighbour Laplacian| over a grid of samples inside the box. */
static double sharpness(const carve_image *img, const carve__box *b) {
    int x0 = carve__clampi(b->x, 1, img->w - 2), x1 = carve__clampi(b->x + b->w, 1, img->w - 2);
    int y0 = carve__clampi(b->y, 1, img->h - 2), y1 = carve__clampi(b->y + b->h, 1, img->h - 2);
    if (x1 <= x0 || y1 <= y0) return 0;
    double step = sqrt((double)(x1 - x0) * (y1 - y0) / SHARP_SAMPLES);
    int st = step < 1 ? 1 : (int)step;
    double sum = 0;
    long cnt = 0;
    for (int y = y0; y < y1; y += st)
        for (int x = x0; x < x1; x += st) {
            int l = 4 * grey_at(img, x, y) - grey_at(img, x - 1, y) - grey_at(img, x + 1, y) - grey_at(img, x, y - 1) -
                    grey_at(img, x, y + 1);
            sum += abs(l);
            cnt++;
        }
    return cnt ? sum / cnt : 0;
}

static void score_all(const carve_image *img, const carve__box *det, int n, carve__subject_score *sc) {
    double W = img->w, H = img->h, best = 0;
    double half_diag = 0.5 * sqrt(W * W + H * H);
    for (int i = 0; i < n; i++) {
        const carve__box *b = &det[i];
        sc[i].area = box_area(b) / (W * H);
        double dx = b->x + b->w / 2.0 - W / 2, dy = b->y + b->h / 2.0 - H / 2;
        sc[i].centrality = 1 - sqrt(dx * dx + dy * dy) / half_diag;
        sc[i].sharpness = carve__is_vehicle(b->kind) ? sharpness(img, b) : 0;
        if (sc[i].sharpness > best) best = sc[i].sharpness;
    }
    for (int i = 0; i < n; i++) {
        sc[i].sharpness = best > 0 ? sc[i].sharpness / best : 0;
        sc[i].prominence = carve__is_vehicle(det[i].kind)
                               ? det[i].score * sc[i].area * (0.5 + 0.5 * sc[i].centrality) * (0.6 + 0.4 * sc[i].sharpness)
                               : 0;
    }
}

/* Vehicle indices eligible for auto/all, by decreasing prominence, without
 * duplicates of a more prominent one; returns the count. */
static int ranked(const carve__box *det, int n, const carve__subject_score *sc, double min_area, int *order) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!carve__is_vehicle(det[i].kind) || det[i].score < MIN_SCORE || sc[i].area < min_area) continue;
        int j = k++;
        while (j > 0 && sc[order[j - 1]].prominence < sc[i].prominence) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    int m = 0;
    for (int a = 0; a < k; a++) {
        bool dup = false;
        for (int b = 0; b < m && !dup; b++) dup = carve__subject_same(&det[order[a]], &det[order[b]]);
        if (!dup) order[m++] = order[a];
    }
    return m;
}

static int pick_point(const carve__box *det, int n, int px, int py) {
    int best = -1;
    for (int i = 0; i < n; i++) {
        const carve__box *b = &det[i];
        if (!carve__is_vehicle(b->kind) || px < b->x || py < b->y || px >= b->x + b->w || py >= b->y + b->h) continue;
        if (best < 0 || box_area(b) < box_area(&det[best]) ||
            (box_area(b) == box_area(&det[best]) && b->score > det[best].score))
            best = i;
    }
    return best;
}

carve_status carve__subject_choose(carve_ctx *ctx, const carve_image *img, const carve__box *det, int n,
                                   const carve__subject_spec *spec, int max_subjects, carve__subject_score *sc,
                                   bool *chosen, carve__box **sub, int *nsub, int *capped, char *why, size_t whylen) {
    *sub = NULL;
    *nsub = 0;
    *capped = 0;
    why[0] = 0;
    score_all(img, det, n, sc);
    for (int i = 0; i < n; i++) chosen[i] = false;
    int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    carve__box *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    if (!order || !out) {
        free(order);
        free(out);
        return carve__fail(ctx, CARVE_ERR_NOMEM, "subject: out of memory");
    }
    int k = 0;
    if (spec->mode == CARVE__SUBJECT_BOX) {
        out[k++] = (carve__box){spec->x, spec->y, spec->w, spec->h, 1.0f, "user"};
        snprintf(why, whylen, "option subject: the user's box");
    } else if (spec->mode == CARVE__SUBJECT_POINT) {
        int i = pick_point(det, n, spec->x, spec->y);
        if (i >= 0) {
            out[k++] = det[i];
            chosen[i] = true;
            snprintf(why, whylen, "option subject: the smallest vehicle box containing the point (%s, score %.2f)",
                     det[i].kind, det[i].score);
        } else {
            snprintf(why, whylen, "option subject: no vehicle detected at the point; the matte is seeded there");
        }
    } else if (spec->mode == CARVE__SUBJECT_ALL) {
        int m = ranked(det, n, sc, MIN_AREA_ALL, order);
        for (int a = 0; a < m && k < max_subjects; a++) {
            out[k++] = det[order[a]];
            chosen[order[a]] = true;
        }
        *capped = m - k;
        snprintf(why, whylen, "option subject all: %d vehicle%s of at least %.1f%% of the image%s", k, k == 1 ? "" : "s",
                 100 * MIN_AREA_ALL, *capped ? " (capped by option max_subjects)" : "");
    } else {
        int m = ranked(det, n, sc, MIN_AREA, order);
        for (int a = 0; a < m && k < AUTO_MAX; a++) {
            if (a > 0 && sc[order[a]].prominence < AUTO_SIMILAR * sc[order[0]].prominence) break;
            out[k++] = det[order[a]];
            chosen[order[a]] = true;
        }
        if (k == 1)
            snprintf(why, whylen, "auto: the most prominent vehicle (%s; prominence = score x area x centrality x "
                     "sharpness factors; the next is below %.0f%% of it)", out[0].kind, 100 * AUTO_SIMILAR);
        else if (k > 1)
            snprintf(why, whylen, "auto: %d vehicles of similar prominence (each at least %.0f%% of the first's)", k,
                     100 * AUTO_SIMILAR);
        else
            snprintf(why, whylen, "auto: no vehicle detected (score >= %.2f, area >= %.1f%% of the image)", MIN_SCORE,
                     100 * MIN_AREA);
    }
    free(order);
    if (!k) {
        free(out);
        out = NULL;
    }
    *sub = out;
    *nsub = k;
    return CARVE_OK;
}

int carve__subject_occluders(const carve__box *det, int n, const carve__box *sub, int nsub, int *idx) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(det[i].kind, "person") || det[i].score < MIN_SCORE) continue;
        /* in front of the vehicle: standing on the ground nearer the camera,
         * so the feet are at or below the vehicle's ground line; a passenger
         * seen through a window, or a person behind the vehicle, ends higher */
        for (int j = 0; j < nsub; j++)
            if (inter_area(&det[i], &sub[j]) >= 0.15 * box_area(&det[i]) &&
                det[i].y + det[i].h >= sub[j].y + (1 - OCCLUDER_FEET) * sub[j].h) {
                idx[k++] = i;
                break;
            }
    }
    return k;
}
