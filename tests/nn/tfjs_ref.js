// tfjs_ref.js — the TF.js reference for the NanoDet conversion test.
//   node tfjs_ref.js MODEL.json DIR
// Runs the TF.js graph model (CPU backend) on every DIR/in_K.f32 (float32,
// the model's input shape) and writes DIR/ref_K.f32: for each (scores, boxes)
// output pair of the strides 8, 16, 32, the rows [scores | boxes] — the layout
// of the converted model's single output.
'use strict';
const path = require('path');
const fs = require('fs');
const modules = path.join(__dirname, 'tfjs', 'node_modules');
const tf = require(path.join(modules, '@tensorflow', 'tfjs-core'));
require(path.join(modules, '@tensorflow', 'tfjs-backend-cpu'));
const tfc = require(path.join(modules, '@tensorflow', 'tfjs-converter'));

// (scores, boxes) per stride, as in the converter's --outputs
const OUTPUTS = ['Identity', 'Identity_3', 'Identity_1', 'Identity_4', 'Identity_2', 'Identity_5'];

async function main() {
  const [modelPath, dir] = process.argv.slice(2);
  const spec = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  const group = spec.weightsManifest[0];
  const bufs = group.paths.map((p) => fs.readFileSync(path.join(path.dirname(modelPath), p)));
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  await tf.setBackend('cpu');
  const model = await tfc.loadGraphModel(tf.io.fromMemory({ modelTopology: spec.modelTopology, weightSpecs: group.weights, weightData }));
  const dims = spec.signature.inputs['input_1:0'].tensorShape.dim.map((d) => Number(d.size));
  const files = fs.readdirSync(dir).filter((f) => /^in_\d+\.f32$/.test(f)).sort();
  if (!files.length) throw new Error(`no in_K.f32 files in ${dir}`);
  for (const f of files) {
    const raw = fs.readFileSync(path.join(dir, f));
    const x = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), dims);
    const outs = model.execute({ input_1: x }, OUTPUTS);
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
