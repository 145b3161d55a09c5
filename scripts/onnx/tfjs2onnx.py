#!/usr/bin/env python3
"""tfjs2onnx.py — converts a TF.js graph model (model.json + weight shards)
to ONNX, written by carve with the Python standard library only.

usage: tfjs2onnx.py MODEL.json OUT.onnx [--concat-outputs NAME:OUT1,OUT2;...]

Scope: the ops of the TF.js graph models carve converts (NanoDet, BlazeFace):
Conv2D, _FusedConv2D (BiasAdd [+ Relu]), DepthwiseConv2dNative, MaxPool
(NHWC, VALID or SAME), Add/AddV2, Relu, LeakyRelu, Sigmoid, Pad, PadV2,
Transpose, ConcatV2, SplitV, Reshape, ResizeBilinear, Identity; integer
shape arithmetic (SparseToDense, AddV2 on constants) is folded here.  Every
tensor keeps its TF.js shape: NHWC ops are wrapped in Transpose nodes (ONNX
Runtime's optimiser cancels the pairs).  Weights stored as float16
(quantization dtype float16) are widened to float32 exactly.  The output is
deterministic: same input files, same bytes.

--outputs A,B,...   graph outputs, in order (default: the signature's order)
--concat NAME       one output NAME instead: per pair (scores, boxes) of the
                    given outputs, Concat on the last axis, then all pairs on
                    axis 1 (NanoDet: [1, sum N, 80 + 44])
"""
import argparse, base64, json, os, struct, sys

# ---- protobuf wire format (field numbers from onnx.proto) -------------------

def varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def key(field, wt):
    return varint((field << 3) | wt)


def f_int(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    return key(field, 2) + varint(len(b)) + b


def f_str(field, s):
    return f_bytes(field, s.encode())


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


ONNX_FLOAT, ONNX_INT64 = 1, 7
ATTR_FLOAT, ATTR_INT, ATTR_STRING, ATTR_INTS = 1, 2, 3, 7


def attr(name, v):
    b = f_str(1, name)
    if isinstance(v, float):
        return b + f_float(2, v) + f_int(20, ATTR_FLOAT)
    if isinstance(v, int):
        return b + f_int(3, v) + f_int(20, ATTR_INT)
    if isinstance(v, str):
        return b + f_bytes(4, v.encode()) + f_int(20, ATTR_STRING)
    return b + b"".join(f_int(8, i) for i in v) + f_int(20, ATTR_INTS)


def tensor_proto(name, dims, dtype, raw):
    return b"".join(f_int(1, d) for d in dims) + f_int(2, dtype) + f_str(8, name) + f_bytes(9, raw)


def value_info(name, dims):
    shape = b"".join(f_bytes(1, f_int(1, d) if d >= 0 else f_str(2, "%s_d%d" % (name, i)))
                     for i, d in enumerate(dims))
    tt = f_int(1, ONNX_FLOAT) + f_bytes(2, shape)
    return f_str(1, name) + f_bytes(2, f_bytes(1, tt))


# ---- TF.js model -----------------------------------------------------------

def fail(msg):
    print("tfjs2onnx: " + msg, file=sys.stderr)
    sys.exit(1)


def prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def load_weights(model_path, spec):
    """name -> (dtype 'float'|'int', shape, list of values)."""
    folder = os.path.dirname(model_path)
    out = {}
    for group in spec["weightsManifest"]:
        data = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape, n = w["shape"], prod(w["shape"])
            q = w.get("quantization")
            if q and q.get("dtype") == "float16":
                vals = struct.unpack_from("<%de" % n, data, off)
                off += 2 * n
            elif q:
                fail("%s: quantization %s is not supported" % (w["name"], q))
            elif w["dtype"] == "float32":
                vals = struct.unpack_from("<%df" % n, data, off)
                off += 4 * n
            elif w["dtype"] == "int32":
                vals = struct.unpack_from("<%di" % n, data, off)
                off += 4 * n
            else:
                fail("%s: dtype %s is not supported" % (w["name"], w["dtype"]))
            kind = "float" if (q or w["dtype"] == "float32") else "int"
            out[w["name"]] = (kind, list(shape), list(vals))
        if off != len(data):
            fail("weights: %d bytes used of %d in %s" % (off, len(data), group["paths"]))
    return out


def signature(spec):
    """The model's signature (top level, or in userDefinedMetadata)."""
    sig = spec.get("signature") or spec.get("userDefinedMetadata", {}).get("signature")
    if not sig:
        fail("the model has no signature (inputs/outputs)")
    return sig


def attr_ints(node, name):
    return [int(i) for i in node["attr"][name]["list"].get("i", [])]


def attr_str(node, name):
    return base64.b64decode(node["attr"][name]["s"]).decode()


def ref(name):
    """TF input reference 'node:1' / '^ctrl' -> (node, index)."""
    name = name.lstrip("^")
    if ":" in name:
        n, i = name.rsplit(":", 1)
        return n, int(i)
    return name, 0


class Converter:
    def __init__(self, spec, weights):
        self.spec, self.w = spec, weights
        self.nodes, self.inits, self.init_names = [], [], set()
        self.consts = {}   # TF name -> (kind, shape, values) for folded constants
        self.count = 0

    def tname(self, name, idx=0):
        return name if idx == 0 else "%s:%d" % (name, idx)

    def emit(self, op, inputs, outputs, **attrs):
        self.count += 1
        body = b"".join(f_str(1, i) for i in inputs) + b"".join(f_str(2, o) for o in outputs)
        body += f_str(3, "n%d_%s" % (self.count, op)) + f_str(4, op)
        body += b"".join(f_bytes(5, attr(k, attrs[k])) for k in sorted(attrs))
        self.nodes.append(body)

    def init(self, name, kind, shape, vals):
        if name in self.init_names:
            return name
        self.init_names.add(name)
        if kind == "float":
            raw = struct.pack("<%df" % len(vals), *vals)
            self.inits.append(tensor_proto(name, shape, ONNX_FLOAT, raw))
        else:
            raw = struct.pack("<%dq" % len(vals), *vals)
            self.inits.append(tensor_proto(name, shape, ONNX_INT64, raw))
        return name

    def const(self, r):
        n, _ = ref(r)
        if n not in self.consts:
            fail("%s: expected a constant input" % r)
        return self.consts[n]

    def is_const(self, r):
        return ref(r)[0] in self.consts

    def src(self, r):
        """ONNX tensor name for a TF input (constants become initializers)."""
        n, i = ref(r)
        if n in self.consts:
            kind, shape, vals = self.consts[n]
            return self.init(n, kind, shape, vals)
        return self.tname(n, i)

    def nchw(self, x, name):
        t = name + "/nchw_in"
        self.emit("Transpose", [x], [t], perm=[0, 3, 1, 2])
        return t

    def nhwc_out(self, t, name):
        self.emit("Transpose", [t], [name], perm=[0, 2, 3, 1])

    def fold(self, node):
        """Integer shape arithmetic on constants; True when folded."""
        op, ins = node["op"], node.get("input", [])
        if op == "SparseToDense" and all(self.is_const(i) for i in ins):
            idx, shape, vals, dflt = (self.const(i)[2] for i in ins)
            shape = [int(s) for s in shape]
            out = [dflt[0]] * prod(shape)
            if len(shape) != 1:
                fail("%s: only 1-D SparseToDense is supported" % node["name"])
            for k, j in enumerate(idx):
                out[j] = vals[k] if len(vals) > 1 else vals[0]
            self.consts[node["name"]] = ("int", shape, out)
            return True
        if op in ("AddV2", "Add") and all(self.is_const(i) for i in ins):
            a, b = (self.const(i) for i in ins)
            if a[0] != "int" or b[0] != "int" or len(a[2]) != len(b[2]):
                fail("%s: only same-shape integer constant adds are folded" % node["name"])
            self.consts[node["name"]] = ("int", a[1], [x + y for x, y in zip(a[2], b[2])])
            return True
        return False

    def conv(self, node, name, ins):
        """Conv2D / _FusedConv2D / DepthwiseConv2dNative (NHWC, VALID or SAME)."""
        padding = attr_str(node, "padding")
        if attr_str(node, "data_format") != "NHWC" or padding not in ("VALID", "SAME"):
            fail("%s: only NHWC VALID/SAME convolutions are supported" % name)
        if attr_ints(node, "dilations") != [1, 1, 1, 1]:
            fail("%s: dilated convolutions are not supported" % name)
        kind, (kh, kw, ci, co), v = self.const(ins[1])
        depthwise = node["op"] == "DepthwiseConv2dNative"
        # HWIO -> OIHW; depthwise HWCM -> (C*M)1HW with group C
        oc, ic = (ci * co, 1) if depthwise else (co, ci)
        oihw = [0.0] * len(v)
        for h in range(kh):
            for w_ in range(kw):
                for i in range(ci):
                    base = ((h * kw + w_) * ci + i) * co
                    for o in range(co):
                        if depthwise:
                            oihw[(i * co + o) * kh * kw + h * kw + w_] = v[base + o]
                        else:
                            oihw[((o * ci + i) * kh + h) * kw + w_] = v[base + o]
        args = [self.nchw(self.src(ins[0]), name), self.init(ref(ins[1])[0] + "/oihw", "float", [oc, ic, kh, kw], oihw)]
        fused = []
        if node["op"] == "_FusedConv2D":
            fused = [base64.b64decode(f).decode() for f in node["attr"]["fused_ops"]["list"].get("s", [])]
            if not fused or fused[0] != "BiasAdd" or any(f not in ("Relu",) for f in fused[1:]) or len(ins) != 3:
                fail("%s: fused ops %s are not supported" % (name, fused))
            args.append(self.src(ins[2]))
        s = attr_ints(node, "strides")
        extra = {"group": ci} if depthwise else {}
        if padding == "SAME":
            extra["auto_pad"] = "SAME_UPPER"  # TF's SAME: the extra pixel at the end
        t = name + "/nchw_out"
        conv_out = t if len(fused) < 2 else name + "/conv"
        self.emit("Conv", args, [conv_out], kernel_shape=[kh, kw], strides=[s[1], s[2]], **extra)
        if len(fused) == 2:
            self.emit("Relu", [conv_out], [t])
        self.nhwc_out(t, name)

    def pad(self, node, name, ins):
        _, shape, p = self.const(ins[1])
        pads = [int(p[2 * d]) for d in range(shape[0])] + [int(p[2 * d + 1]) for d in range(shape[0])]
        args = [self.src(ins[0]), self.init(name + "/pads", "int", [len(pads)], pads)]
        if node["op"] == "PadV2":
            _, _, cv = self.const(ins[2])
            args.append(self.init(name + "/value", "float", [], [float(cv[0])]))
        self.emit("Pad", args, [name], mode="constant")

    def convert_node(self, node):
        op, name, ins = node["op"], node["name"], node.get("input", [])
        if op == "Const":
            if name not in self.w:
                fail("%s: constant without weights" % name)
            self.consts[name] = self.w[name]
        elif op == "Placeholder":
            dims = [int(d.get("size", -1)) for d in node["attr"]["shape"]["shape"]["dim"]]
            self.inputs.append(value_info(name, dims))
        elif self.fold(node):
            pass
        elif op in ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative"):
            self.conv(node, name, ins)
        elif op == "MaxPool":
            k, s, padding = attr_ints(node, "ksize"), attr_ints(node, "strides"), attr_str(node, "padding")
            if attr_str(node, "data_format") != "NHWC" or padding not in ("VALID", "SAME"):
                fail("%s: only NHWC VALID/SAME MaxPool is supported" % name)
            t = name + "/nchw_out"
            extra = {"auto_pad": "SAME_UPPER"} if padding == "SAME" else {}
            self.emit("MaxPool", [self.nchw(self.src(ins[0]), name)], [t], kernel_shape=[k[1], k[2]],
                      strides=[s[1], s[2]], **extra)
            self.nhwc_out(t, name)
        elif op in ("Add", "AddV2"):
            self.emit("Add", [self.src(ins[0]), self.src(ins[1])], [name])
        elif op == "LeakyRelu":
            self.emit("LeakyRelu", [self.src(ins[0])], [name], alpha=float(node["attr"]["alpha"]["f"]))
        elif op in ("Sigmoid", "Relu"):
            self.emit(op, [self.src(ins[0])], [name])
        elif op == "Identity":
            self.emit("Identity", [self.src(ins[0])], [name])
        elif op in ("Pad", "PadV2"):
            self.pad(node, name, ins)
        elif op == "Transpose":
            self.emit("Transpose", [self.src(ins[0])], [name], perm=[int(i) for i in self.const(ins[1])[2]])
        elif op == "ConcatV2":
            axis = int(self.const(ins[-1])[2][0])
            self.emit("Concat", [self.src(i) for i in ins[:-1]], [name], axis=axis)
        elif op == "SplitV":
            sizes, axis = self.const(ins[1])[2], int(self.const(ins[2])[2][0])
            n = int(node["attr"]["num_split"]["i"])
            split = self.init(name + "/split", "int", [len(sizes)], [int(s) for s in sizes])
            self.emit("Split", [self.src(ins[0]), split], [self.tname(name, i) for i in range(n)], axis=axis)
        elif op == "Reshape":
            shape = [int(s) for s in self.const(ins[1])[2]]
            self.emit("Reshape", [self.src(ins[0]), self.init(name + "/shape", "int", [len(shape)], shape)], [name])
        elif op == "ResizeBilinear":
            if node["attr"].get("align_corners", {}).get("b") or not node["attr"].get("half_pixel_centers", {}).get("b"):
                fail("%s: only half_pixel_centers ResizeBilinear is supported" % name)
            size = self.const(ins[1])[2]
            t = name + "/nchw_out"
            x = self.nchw(self.src(ins[0]), name)
            sizes = self.init(name + "/sizes_nchw", "int", [4], [1, -1, int(size[0]), int(size[1])])
            shape = name + "/shape"
            self.emit("Shape", [x], [shape])
            full = name + "/sizes"
            # sizes = (N, C from the input; H, W from the op): Max(shape * [1,1,0,0], sizes)
            mask = self.init(name + "/mask", "int", [4], [1, 1, 0, 0])
            self.emit("Mul", [shape, mask], [name + "/nc"])
            self.emit("Max", [name + "/nc", sizes], [full])
            self.emit("Resize", [x, "", "", full], [t], mode="linear", coordinate_transformation_mode="half_pixel")
            self.nhwc_out(t, name)
        else:
            fail("%s: op %s is not supported" % (name, op))

    def concat_outputs(self, outs, name):
        pairs = []
        for k in range(0, len(outs), 2):
            p = "%s/pair%d" % (name, k // 2)
            self.emit("Concat", [outs[k], outs[k + 1]], [p], axis=-1)
            pairs.append(p)
        self.emit("Concat", pairs, [name], axis=1)

    def model(self, outs, concat):
        self.inputs = []
        for node in self.spec["modelTopology"]["node"]:
            self.convert_node(node)
        out_vi = []
        sig = signature(self.spec)["outputs"]
        if concat:
            self.concat_outputs([ref(o)[0] for o in outs], concat)
            width = sum(int(sig[o + ":0"]["tensorShape"]["dim"][2]["size"]) for o in outs[:2])
            n = sum(int(sig[o + ":0"]["tensorShape"]["dim"][1]["size"]) for o in outs[0::2])
            out_vi.append(value_info(concat, [1, n, width]))
        else:
            for o in outs:
                out_vi.append(value_info(o, [int(d["size"]) for d in sig[o + ":0"]["tensorShape"]["dim"]]))
        graph = b"".join(f_bytes(1, n) for n in self.nodes) + f_str(2, "tfjs2onnx")
        graph += b"".join(f_bytes(5, t) for t in self.inits)
        graph += b"".join(f_bytes(11, v) for v in self.inputs) + b"".join(f_bytes(12, v) for v in out_vi)
        opset = f_str(1, "") + f_int(2, 13)
        return f_int(1, 7) + f_str(2, "carve tfjs2onnx") + f_str(3, "1") + f_bytes(7, graph) + f_bytes(8, opset)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--outputs", help="graph outputs in order (TF node names)")
    ap.add_argument("--concat", help="one concatenated output of this name")
    a = ap.parse_args(argv[1:])
    with open(a.model) as f:
        spec = json.load(f)
    if spec.get("format") != "graph-model":
        fail("%s: not a TF.js graph model" % a.model)
    outs = a.outputs.split(",") if a.outputs else [ref(o)[0] for o in signature(spec)["outputs"]]
    data = Converter(spec, load_weights(a.model, spec)).model(outs, a.concat)
    tmp = a.out + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
