/* sha256.c — SHA-256 (FIPS 180-4), for verifying model files.  Portable C,
 * and on x86-64 CPUs with the SHA extensions (checked at run time with
 * CPUID) the same compression with the SHA-NI instructions: ~5x faster, which
 * matters for the 84 MiB ISNet checked before its first session. */
#include "nn/nn_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CARVE_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void block(carve__sha256 *s, const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
    s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

#if CARVE_SHA_NI
/* Four rounds: W + K into the two state halves (ABEF, CDGH). */
#define SHA_NI_ROUNDS(msg, k)                                                                      \
    do {                                                                                           \
        __m128i t_ = _mm_add_epi32((msg), _mm_loadu_si128((const __m128i *)(k)));                  \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, t_);                                              \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(t_, 0x0E));                     \
    } while (0)

/* n 64-byte blocks of p into h[8], with the SHA-NI instructions. */
__attribute__((target("sha,sse4.1,ssse3"))) static void blocks_ni(uint32_t h[8], const uint8_t *p, size_t n) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0xB1);        /* B A D C */
    __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(h + 4)), 0x1B); /* H G F E */
    __m128i abef = _mm_alignr_epi8(t, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, t, 0xF0);
    for (; n; n--, p += 64) {
        __m128i abef0 = abef, cdgh0 = cdgh, w[4];
        for (int g = 0; g < 16; g++) {
            if (g < 4) {
                w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
            } else { /* W[4g..4g+3] from the previous 16 words */
                __m128i x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
                w[g & 3] = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);
            }
            SHA_NI_ROUNDS(w[g & 3], &K[4 * g]);
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    t = _mm_shuffle_epi32(abef, 0x1B);     /* F E B A */
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);  /* D C H G */
    _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(t, cdgh, 0xF0));    /* D C B A */
    _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(cdgh, t, 8)); /* H G F E */
}

static bool cpu_has_sha_ni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1)) return false;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#endif

static int g_portable; /* carve__sha256_force_portable */

void carve__sha256_force_portable(bool on) { g_portable = on; }

bool carve__sha256_accelerated(void) {
#if CARVE_SHA_NI
    static int have = -1; /* a benign race: every thread computes the same value */
    if (have < 0) have = cpu_has_sha_ni();
    return have && !g_portable;
#else
    return false;
#endif
}

/* n 64-byte blocks of p into s->h. */
static void blocks(carve__sha256 *s, const uint8_t *p, size_t n) {
#if CARVE_SHA_NI
    if (carve__sha256_accelerated()) {
        blocks_ni(s->h, p, n);
        return;
    }
#endif
    for (; n; n--, p += 64) block(s, p);
}

void carve__sha256_init(carve__sha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
    s->nbuf = 0;
}

void carve__sha256_update(carve__sha256 *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->len += n;
    if (s->nbuf) {
        size_t k = 64 - s->nbuf < n ? 64 - s->nbuf : n;
        memcpy(s->buf + s->nbuf, p, k);
        s->nbuf += k, p += k, n -= k;
        if (s->nbuf == 64) { blocks(s, s->buf, 1); s->nbuf = 0; }
    }
    blocks(s, p, n / 64);
    p += n / 64 * 64;
    n %= 64;
    if (n) { memcpy(s->buf, p, n); s->nbuf = n; }
}

void carve__sha256_final(carve__sha256 *s, uint8_t out[32]) {
    uint64_t bits = s->len * 8;
    uint8_t pad = 0x80, zero = 0;
    carve__sha256_update(s, &pad, 1);
    while (s->nbuf != 56) carve__sha256_update(s, &zero, 1);
    uint8_t l[8];
    for (int i = 0; i < 8; i++) l[i] = (uint8_t)(bits >> (56 - 8 * i));
    carve__sha256_update(s, l, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

static void to_hex(const uint8_t d[32], char out[65]) {
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) out[2 * i] = hx[d[i] >> 4], out[2 * i + 1] = hx[d[i] & 15];
    out[64] = 0;
}

void carve__sha256_hex(const void *data, size_t n, char out[65]) {
    carve__sha256 s;
    uint8_t d[32];
    carve__sha256_init(&s);
    carve__sha256_update(&s, data, n);
    carve__sha256_final(&s, d);
    to_hex(d, out);
}

carve_status carve__sha256_file(carve_ctx *ctx, const char *path, char out[65]) {
    out[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return carve__fail(ctx, CARVE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    carve__sha256 s;
    carve__sha256_init(&s);
    enum { BUFSZ = 1 << 16 };
    uint8_t *buf = malloc(BUFSZ);
    if (!buf) { fclose(f); return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory hashing %s", path); }
    size_t k;
    while ((k = fread(buf, 1, BUFSZ, f)) > 0) carve__sha256_update(&s, buf, k);
    bool err = ferror(f);
    fclose(f);
    free(buf);
    if (err) return carve__fail(ctx, CARVE_ERR_IO, "%s: read error", path);
    uint8_t d[32];
    carve__sha256_final(&s, d);
    to_hex(d, out);
    return CARVE_OK;
}
