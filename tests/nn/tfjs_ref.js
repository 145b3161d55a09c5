// tfjs_ref.js — the TF.js reference for the conversion test (tests/nn/convert.sh).
//   node tfjs_ref.js MODEL.json DIR OUT1,OUT2,...
// Runs the TF.js graph model (CPU backend) on every DIR/in_K.f32 (float32,
// the model's input shape) and writes DIR/ref_K.f32: for each (scores, boxes)
// pair of the named outputs ([1, N, a] and [1, N, b]), the rows
// [scores | boxes], pairs one after the other — the layout of the converted
// model's single output (tfjs2onnx.py --outputs ... --concat).
'use strict';
const path = require('path');
const fs = require('fs');
const modules = path.join(__dirname, 'tfjs', 'node_modules');
const tf = require(path.join(modules, '@tensorflow', 'tfjs-core'));
require(path.join(modules, '@tensorflow', 'tfjs-backend-cpu'));
const tfc = require(path.join(modules, '@tensorflow', 'tfjs-converter'));

async function main() {
  const [modelPath, dir, names] = process.argv.slice(2);
  const OUTPUTS = names.split(',');
  const spec = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  const group = spec.weightsManifest[0];
  const bufs = group.paths.map((p) => fs.readFileSync(path.join(path.dirname(modelPath), p)));
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  await tf.setBackend('cpu');
  const model = await tfc.loadGraphModel(tf.io.fromMemory({ modelTopology: spec.modelTopology, weightSpecs: group.weights, weightData }));
  const sig = spec.signature || spec.userDefinedMetadata.signature;
  const [inName] = Object.keys(sig.inputs);
  const dims = sig.inputs[inName].tensorShape.dim.map((d) => Number(d.size));
  const files = fs.readdirSync(dir).filter((f) => /^in_\d+\.f32$/.test(f)).sort();
  if (!files.length) throw new Error(`no in_K.f32 files in ${dir}`);
  for (const f of files) {
    const raw = fs.readFileSync(path.join(dir, f));
    const x = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), dims);
    const outs = model.execute({ [inName.replace(/:0$/, '')]: x }, OUTPUTS);
    const rows = [];
    for (let k = 0; k < OUTPUTS.length; k += 2) {
      const [s, b] = [outs[k], outs[k + 1]];
      const [sv, bv] = [s.dataSync(), b.dataSync()];
      const n = s.shape[1], cs = s.shape[2], cb = b.shape[2];
      for (let i = 0; i < n; i++) rows.push(sv.subarray(i * cs, (i + 1) * cs), bv.subarray(i * cb, (i + 1) * cb));
    }
    const total = rows.reduce((a, r) => a + r.length, 0);
    const out = new Float32Array(total);
    let o = 0;
    for (const r of rows) { out.set(r, o); o += r.length; }
    fs.writeFileSync(path.join(dir, f.replace('in_', 'ref_')), Buffer.from(out.buffer));
    tf.dispose([x, ...outs]);
  }
}

main().catch((e) => { console.error('tfjs_ref: ' + (e && e.stack || e)); process.exit(1); });
