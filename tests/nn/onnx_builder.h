/* onnx_builder.h — writes tiny ONNX models (protobuf encoded by hand) so the
 * tests exercise every adapter through the real runtime without downloads.
 * Field numbers from onnx.proto (ModelProto, GraphProto, NodeProto, ...). */
#ifndef CARVE_ONNX_BUILDER_H
#define CARVE_ONNX_BUILDER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pb { uint8_t *d; size_t n, cap; } pb;

static void pb_put(pb *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n) c *= 2;
        b->d = realloc(b->d, c);
        if (!b->d) abort();
        b->cap = c;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void pb_varint(pb *b, uint64_t v) {
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        if (v) c |= 0x80;
        pb_put(b, &c, 1);
    } while (v);
}
static void pb_key(pb *b, int field, int wt) { pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wt); }
static void pb_int(pb *b, int field, int64_t v) { pb_key(b, field, 0); pb_varint(b, (uint64_t)v); }
static void pb_bytes(pb *b, int field, const void *p, size_t n) { pb_key(b, field, 2); pb_varint(b, n); pb_put(b, p, n); }
static void pb_str(pb *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }
static void pb_msg(pb *b, int field, pb *sub) { pb_bytes(b, field, sub->d, sub->n); free(sub->d); memset(sub, 0, sizeof *sub); }

/* ValueInfoProto of a float tensor; dims < 0 become symbolic ("d0", ...). */
static void onnx_value(pb *graph, int field, const char *name, int rank, const int64_t *dims) {
    pb shape = {0}, tt = {0}, type = {0}, vi = {0};
    for (int i = 0; i < rank; i++) {
        pb dim = {0};
        if (dims[i] >= 0) pb_int(&dim, 1, dims[i]);
        else { char p[16]; snprintf(p, sizeof p, "%s_d%d", name, i); pb_str(&dim, 2, p); }
        pb_msg(&shape, 1, &dim);
    }
    pb_int(&tt, 1, 1); /* FLOAT */
    pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(graph, field, &vi);
}

/* A float initializer (TensorProto with raw_data). */
static void onnx_init(pb *graph, const char *name, int rank, const int64_t *dims, const float *v, size_t n) {
    pb t = {0};
    for (int i = 0; i < rank; i++) pb_int(&t, 1, dims[i]);
    pb_int(&t, 2, 1);
    pb_str(&t, 8, name);
    pb_bytes(&t, 9, v, n * sizeof(float)); /* little-endian hosts */
    pb_msg(graph, 5, &t);
}

/* A node with up to 3 inputs and one int attribute (attr may be NULL). */
static void onnx_node(pb *graph, const char *op, const char *in0, const char *in1, const char *in2, const char *out,
                      const char *attr, int64_t attr_val) {
    pb n = {0};
    if (in0) pb_str(&n, 1, in0);
    if (in1) pb_str(&n, 1, in1);
    if (in2) pb_str(&n, 1, in2);
    pb_str(&n, 2, out);
    pb_str(&n, 3, out);
    pb_str(&n, 4, op);
    if (attr) {
        pb a = {0};
        pb_str(&a, 1, attr);
        pb_int(&a, 3, attr_val);
        pb_int(&a, 20, 2); /* INT */
        pb_msg(&n, 5, &a);
    }
    pb_msg(graph, 1, &n);
}

/* Wraps a graph into a ModelProto (IR 8, opset 13) and writes it. */
static int onnx_write(const char *path, pb *graph) {
    pb model = {0}, opset = {0};
    pb_int(&model, 1, 8);
    pb_str(&model, 2, "carve-tests");
    pb_str(graph, 2, "g");
    pb_msg(&model, 7, graph);
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 13);
    pb_msg(&model, 8, &opset);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(model.d, 1, model.n, f) == model.n;
    if (f) ok &= fclose(f) == 0;
    free(model.d);
    return ok ? 0 : -1;
}

/* ---- the test models ------------------------------------------------------- */
/* y = Sigmoid(gain * Conv1x1(x, w)) : [1,3,H,W] -> [1,1,H,W] */
static int onnx_make_gray_sigmoid(const char *path, const char *in, const char *out, int64_t h, int64_t w, float wt,
                                  float gain) {
    pb g = {0};
    int64_t wd[4] = {1, 3, 1, 1}, xd[4] = {1, 3, h, w}, yd[4] = {1, 1, h, w};
    float wv[3] = {wt, wt, wt}, gv[1] = {gain};
    onnx_init(&g, "W", 4, wd, wv, 3);
    onnx_init(&g, "G", 0, NULL, gv, 1);
    onnx_node(&g, "Conv", in, "W", NULL, "c", NULL, 0);
    onnx_node(&g, "Mul", "c", "G", NULL, "m", NULL, 0);
    onnx_node(&g, "Sigmoid", "m", NULL, NULL, out, NULL, 0);
    onnx_value(&g, 11, in, 4, xd);
    onnx_value(&g, 12, out, 4, yd);
    return onnx_write(path, &g);
}

/* out = image * (1 - mask) + 0.5 * mask */
static int onnx_make_inpaint(const char *path) {
    pb g = {0};
    int64_t xd[4] = {1, 3, -1, -1}, md[4] = {1, 1, -1, -1};
    float one[1] = {1}, half[1] = {0.5f};
    onnx_init(&g, "one", 0, NULL, one, 1);
    onnx_init(&g, "half", 0, NULL, half, 1);
    onnx_node(&g, "Sub", "one", "mask", NULL, "inv", NULL, 0);
    onnx_node(&g, "Mul", "image", "inv", NULL, "kept", NULL, 0);
    onnx_node(&g, "Mul", "mask", "half", NULL, "fill", NULL, 0);
    onnx_node(&g, "Add", "kept", "fill", NULL, "output", NULL, 0);
    onnx_value(&g, 11, "image", 4, xd);
    onnx_value(&g, 11, "mask", 4, md);
    onnx_value(&g, 12, "output", 4, xd);
    return onnx_write(path, &g);
}

/* 2x nearest upscaling: Conv to 12 channels (copies) + DepthToSpace(2). */
static int onnx_make_sr2(const char *path) {
    pb g = {0};
    int64_t wd[4] = {12, 3, 1, 1}, xd[4] = {1, 3, -1, -1}, yd[4] = {1, 3, -1, -1};
    float wv[36] = {0};
    for (int k = 0; k < 12; k++) wv[k * 3 + k % 3] = 1;
    onnx_init(&g, "W", 4, wd, wv, 36);
    onnx_node(&g, "Conv", "lr", "W", NULL, "c", NULL, 0);
    onnx_node(&g, "DepthToSpace", "c", NULL, NULL, "hr", "blocksize", 2);
    onnx_value(&g, 11, "lr", 4, xd);
    onnx_value(&g, 12, "hr", 4, yd);
    return onnx_write(path, &g);
}

/* depth = mean of the channels: [1,3,H,W] -> [1,1,H,W] */
static int onnx_make_depth(const char *path) {
    pb g = {0};
    int64_t wd[4] = {1, 3, 1, 1}, xd[4] = {1, 3, -1, -1}, yd[4] = {1, 1, -1, -1};
    float wv[3] = {1.0f / 3, 1.0f / 3, 1.0f / 3};
    onnx_init(&g, "W", 4, wd, wv, 3);
    onnx_node(&g, "Conv", "pixel_values", "W", NULL, "predicted_depth", NULL, 0);
    onnx_value(&g, 11, "pixel_values", 4, xd);
    onnx_value(&g, 12, "predicted_depth", 4, yd);
    return onnx_write(path, &g);
}

#endif
