/* color.c — sRGB <-> linear <-> XYZ (D65) <-> CIELAB and CIEDE2000.
 *
 * CIEDE2000 follows Sharma, Wu & Dalal (2005) exactly, including the hue
 * wrap-around rules for the mean hue and the hue difference (pairs 9-19 of
 * their table), which libvips' implementation gets wrong. */
#include "core.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* D65 white, 2° observer (XYZ scaled so Y = 1). */
static const double XN = 0.95047, YN = 1.0, ZN = 1.08883;

static double lin_table[256];
static pthread_once_t lin_once = PTHREAD_ONCE_INIT;

static double srgb_to_linear(double c) {
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}
static double linear_to_srgb(double c) {
    return c <= 0.0031308 ? 12.92 * c : 1.055 * pow(c, 1.0 / 2.4) - 0.055;
}

static void init_lin(void) {
    for (int i = 0; i < 256; i++) lin_table[i] = srgb_to_linear(i / 255.0);
}

double carve__srgb_to_linear8(uint8_t v) {
    pthread_once(&lin_once, init_lin);
    return lin_table[v];
}

static double f_lab(double t) {
    const double d = 6.0 / 29.0;
    return t > d * d * d ? cbrt(t) : t / (3 * d * d) + 4.0 / 29.0;
}
static double f_lab_inv(double t) {
    const double d = 6.0 / 29.0;
    return t > d ? t * t * t : 3 * d * d * (t - 4.0 / 29.0);
}

void carve__rgb8_to_lab(uint8_t r8, uint8_t g8, uint8_t b8, double lab[3]) {
    double r = carve__srgb_to_linear8(r8), g = carve__srgb_to_linear8(g8), b = carve__srgb_to_linear8(b8);
    double x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
    double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
    double z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
    double fx = f_lab(x / XN), fy = f_lab(y / YN), fz = f_lab(z / ZN);
    lab[0] = 116 * fy - 16;
    lab[1] = 500 * (fx - fy);
    lab[2] = 200 * (fy - fz);
}

void carve_rgb_to_lab(uint32_t rgb, double lab[3]) {
    carve__rgb8_to_lab((uint8_t)(rgb >> 16), (uint8_t)(rgb >> 8), (uint8_t)rgb, lab);
}

void carve_lab_to_rgb(const double lab[3], uint32_t *rgb) {
    double fy = (lab[0] + 16) / 116, fx = fy + lab[1] / 500, fz = fy - lab[2] / 200;
    double x = XN * f_lab_inv(fx), y = YN * f_lab_inv(fy), z = ZN * f_lab_inv(fz);
    double c[3] = {3.2404542 * x - 1.5371385 * y - 0.4985314 * z, -0.9692660 * x + 1.8760108 * y + 0.0415560 * z,
                   0.0556434 * x - 0.2040259 * y + 1.0572252 * z};
    uint32_t out = 0;
    for (int i = 0; i < 3; i++) {
        double v = linear_to_srgb(c[i] < 0 ? 0 : c[i] > 1 ? 1 : c[i]) * 255.0 + 0.5;
        int q = v < 0 ? 0 : v > 255 ? 255 : (int)v;
        out = (out << 8) | (uint32_t)q;
    }
    *rgb = out;
}

static double deg(double r) { return r * 180.0 / M_PI; }
static double rad(double d) { return d * M_PI / 180.0; }

double carve_ciede2000(const double lab1[3], const double lab2[3]) {
    const double L1 = lab1[0], a1 = lab1[1], b1 = lab1[2];
    const double L2 = lab2[0], a2 = lab2[1], b2 = lab2[2];
    const double pow25_7 = 6103515625.0; /* 25^7 */

    double C1 = hypot(a1, b1), C2 = hypot(a2, b2);
    double Cb = (C1 + C2) / 2;
    double Cb7 = pow(Cb, 7);
    double G = 0.5 * (1 - sqrt(Cb7 / (Cb7 + pow25_7)));
    double a1p = (1 + G) * a1, a2p = (1 + G) * a2;
    double C1p = hypot(a1p, b1), C2p = hypot(a2p, b2);
    double h1p = (a1p == 0 && b1 == 0) ? 0 : deg(atan2(b1, a1p));
    double h2p = (a2p == 0 && b2 == 0) ? 0 : deg(atan2(b2, a2p));
    if (h1p < 0) h1p += 360;
    if (h2p < 0) h2p += 360;

    double dLp = L2 - L1;
    double dCp = C2p - C1p;
    double dhp;
    if (C1p * C2p == 0) dhp = 0;
    else if (fabs(h2p - h1p) <= 180) dhp = h2p - h1p;
    else if (h2p - h1p > 180) dhp = h2p - h1p - 360;
    else dhp = h2p - h1p + 360;
    double dHp = 2 * sqrt(C1p * C2p) * sin(rad(dhp / 2));

    double Lbp = (L1 + L2) / 2;
    double Cbp = (C1p + C2p) / 2;
    double hbp;
    if (C1p * C2p == 0) hbp = h1p + h2p;
    else if (fabs(h1p - h2p) <= 180) hbp = (h1p + h2p) / 2;
    else if (h1p + h2p < 360) hbp = (h1p + h2p + 360) / 2;
    else hbp = (h1p + h2p - 360) / 2;

    double T = 1 - 0.17 * cos(rad(hbp - 30)) + 0.24 * cos(rad(2 * hbp)) + 0.32 * cos(rad(3 * hbp + 6)) -
               0.20 * cos(rad(4 * hbp - 63));
    double dtheta = 30 * exp(-((hbp - 275) / 25) * ((hbp - 275) / 25));
    double Cbp7 = pow(Cbp, 7);
    double RC = 2 * sqrt(Cbp7 / (Cbp7 + pow25_7));
    double Lm = (Lbp - 50) * (Lbp - 50);
    double SL = 1 + 0.015 * Lm / sqrt(20 + Lm);
    double SC = 1 + 0.045 * Cbp;
    double SH = 1 + 0.015 * Cbp * T;
    double RT = -sin(rad(2 * dtheta)) * RC;

    double tl = dLp / SL, tc = dCp / SC, th = dHp / SH;
    return sqrt(tl * tl + tc * tc + th * th + RT * tc * th);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool carve__parse_hex(const char *s, size_t len, uint32_t *rgb) {
    if (len && s[0] == '#') {
        s++;
        len--;
    }
    if (len != 6 && len != 3) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int h = hexval(s[i]);
        if (h < 0) return false;
        v = (v << 4) | (uint32_t)h;
        if (len == 3) v = (v << 4) | (uint32_t)h;
    }
    *rgb = v;
    return true;
}

void carve__hex(uint32_t rgb, char out[8]) {
    static const char d[] = "0123456789abcdef";
    out[0] = '#';
    for (int i = 0; i < 6; i++) out[1 + i] = d[(rgb >> (20 - 4 * i)) & 15];
    out[7] = 0;
}
