/* builtin.c — the built-in named palettes. */
#include "chroma.h"

#include <string.h>

typedef struct bentry {
    uint32_t rgb;
    const char *name;
} bentry;

typedef struct bpal {
    const char *name;
    const char *description;
    const bentry *colors;
    int n;
} bpal;

/* Realistic car paint plus the non-paint parts of a vehicle photo: tyres,
 * glass, chrome/trim, lights and shadow tones. */
static const bentry automotive[] = {
    {0xf5f5f3, "paint-white"},      {0xe3e0d6, "pearl-white"},     {0xc4c7ca, "silver"},
    {0x8b9096, "titanium-grey"},    {0x54595f, "gunmetal"},        {0x16181b, "paint-black"},
    {0xc8102e, "racing-red"},       {0x8e1b25, "candy-red"},       {0x5a1a22, "burgundy"},
    {0xe35f1c, "sunset-orange"},    {0xf2c12e, "taxi-yellow"},     {0x0f4d2e, "british-racing-green"},
    {0x4f6b3a, "olive-green"},      {0x1c2e52, "midnight-blue"},   {0x1f5fae, "sport-blue"},
    {0x7fa7c9, "sky-blue"},         {0x5b3b2a, "mocha-brown"},     {0xcbb994, "champagne"},
    {0x202122, "tyre-black"},       {0x3b3c3e, "tyre-sidewall"},   {0x2b3640, "glass-dark"},
    {0x5e7688, "glass-tint"},       {0xa7b8c6, "glass-reflection"}, {0xeceef0, "chrome-highlight"},
    {0xa3a8ae, "chrome-mid"},       {0x676c72, "chrome-shadow"},   {0xfff4d6, "headlight"},
    {0xb3001b, "taillight"},        {0x0b0b0c, "shadow-deep"},     {0x45474a, "shadow-mid"},
    {0x7c7f83, "shadow-soft"},      {0x56585c, "asphalt"},
};

static const bentry gray4[] = {{0x000000, "black"}, {0x555555, "dark-grey"}, {0xaaaaaa, "light-grey"},
                               {0xffffff, "white"}};

static const bentry gray8[] = {{0x000000, NULL}, {0x242424, NULL}, {0x494949, NULL}, {0x6d6d6d, NULL},
                               {0x929292, NULL}, {0xb6b6b6, NULL}, {0xdbdbdb, NULL}, {0xffffff, NULL}};

static const bentry gray16[] = {{0x000000, NULL}, {0x111111, NULL}, {0x222222, NULL}, {0x333333, NULL},
                                {0x444444, NULL}, {0x555555, NULL}, {0x666666, NULL}, {0x777777, NULL},
                                {0x888888, NULL}, {0x999999, NULL}, {0xaaaaaa, NULL}, {0xbbbbbb, NULL},
                                {0xcccccc, NULL}, {0xdddddd, NULL}, {0xeeeeee, NULL}, {0xffffff, NULL}};

/* The "Flat UI" colour set popularised by flatuicolors.com. */
static const bentry flat_ui[] = {
    {0x1abc9c, "turquoise"},   {0x16a085, "green-sea"},    {0x2ecc71, "emerald"},     {0x27ae60, "nephritis"},
    {0x3498db, "peter-river"}, {0x2980b9, "belize-hole"},  {0x9b59b6, "amethyst"},    {0x8e44ad, "wisteria"},
    {0x34495e, "wet-asphalt"}, {0x2c3e50, "midnight-blue"}, {0xf1c40f, "sun-flower"}, {0xf39c12, "orange"},
    {0xe67e22, "carrot"},      {0xd35400, "pumpkin"},      {0xe74c3c, "alizarin"},    {0xc0392b, "pomegranate"},
    {0xecf0f1, "clouds"},      {0xbdc3c7, "silver"},       {0x95a5a6, "concrete"},    {0x7f8c8d, "asbestos"},
};

static const bentry pastel[] = {
    {0xffb3ba, "pastel-pink"},   {0xffdfba, "pastel-peach"},  {0xffffba, "pastel-yellow"}, {0xbaffc9, "pastel-mint"},
    {0xbae1ff, "pastel-blue"},   {0xd7baff, "pastel-lilac"},  {0xf4f1ea, "paper"},         {0xc9c3b6, "warm-grey"},
    {0x8a8577, "stone"},         {0x4a4a58, "ink"},           {0xa8d8d0, "seafoam"},       {0xf2c4de, "blush"},
};

static const bentry poster8[] = {
    {0x111111, "black"}, {0xfafafa, "white"},  {0xd62828, "red"},   {0xf7b801, "yellow"},
    {0x1d4e89, "blue"},  {0x2a9d4b, "green"},  {0xf77f00, "orange"}, {0x8d99ae, "grey"},
};

/* PICO-8's 16 colours: a well-known flat illustration set. */
static const bentry pico8[] = {
    {0x000000, "black"},       {0x1d2b53, "dark-blue"},  {0x7e2553, "dark-purple"}, {0x008751, "dark-green"},
    {0xab5236, "brown"},       {0x5f574f, "dark-grey"},  {0xc2c3c7, "light-grey"},  {0xfff1e8, "white"},
    {0xff004d, "red"},         {0xffa300, "orange"},     {0xffec27, "yellow"},      {0x00e436, "green"},
    {0x29adff, "blue"},        {0x83769c, "lavender"},   {0xff77a8, "pink"},        {0xffccaa, "light-peach"},
};

#define BP(nm, desc, arr) {nm, desc, arr, (int)(sizeof arr / sizeof arr[0])}
static const bpal builtins[] = {
    BP("automotive", "car paint colours, tyre, glass and chrome greys, lights and shadow tones (32)", automotive),
    BP("grayscale-4", "4 evenly spaced greys, black to white", gray4),
    BP("grayscale-8", "8 evenly spaced greys, black to white", gray8),
    BP("grayscale-16", "16 evenly spaced greys, black to white", gray16),
    BP("flat-ui", "the Flat UI set: 20 saturated flat-design colours", flat_ui),
    BP("pastel", "12 soft pastel tones with paper, stone and ink neutrals", pastel),
    BP("poster-8", "8 bold poster colours", poster8),
    BP("pico-8", "the PICO-8 fantasy console's 16 colours", pico8),
};
#define NBUILTIN ((int)(sizeof builtins / sizeof builtins[0]))

int carve_palette_builtin_count(void) { return NBUILTIN; }

const char *carve_palette_builtin_name(int i) { return i >= 0 && i < NBUILTIN ? builtins[i].name : NULL; }

const char *carve_palette_builtin_description(int i) {
    return i >= 0 && i < NBUILTIN ? builtins[i].description : NULL;
}

carve_status carve_palette_builtin(carve_ctx *ctx, const char *name, carve_palette **out) {
    if (out) *out = NULL;
    if (!name || !out) return carve__fail(ctx, CARVE_ERR_INVALID_ARG, "carve_palette_builtin: NULL argument");
    for (int i = 0; i < NBUILTIN; i++) {
        if (strcmp(builtins[i].name, name)) continue;
        carve_palette *p = carve_palette_create(name);
        if (!p) return carve__fail(ctx, CARVE_ERR_NOMEM, "out of memory");
        for (int j = 0; j < builtins[i].n; j++) {
            carve_status st = carve_palette_add(p, builtins[i].colors[j].rgb, builtins[i].colors[j].name);
            if (st) {
                carve_palette_destroy(p);
                return carve__fail(ctx, st == CARVE_ERR_NOMEM ? st : CARVE_ERR_INTERNAL,
                                   "built-in palette '%s' entry %d: %s", name, j, carve_strerror(st));
            }
        }
        *out = p;
        return CARVE_OK;
    }
    carve__buf b;
    carve__buf_init(&b);
    for (int i = 0; i < NBUILTIN; i++) carve__buf_printf(&b, "%s%s", i ? ", " : "", builtins[i].name);
    carve_status st = carve__fail(ctx, CARVE_ERR_NOT_FOUND, "no built-in palette '%s' (available: %s)", name,
                                  b.data ? b.data : "");
    carve__buf_free(&b);
    return st;
}
