#!/usr/bin/env node
// ort_lc.js — ONNX Runtime (npm onnxruntime-node, CPU provider) throughput
// on the light-curve benchmark's network (two GRU layers and a softmax head),
// exported by `lc_torch.py --dump PREFIX --onnx FILE`.
//
// usage: node ort_lc.js FILE.onnx PREFIX THREADS BATCH STEPS FEATURES SECONDS
//   PREFIX: what `lc_bench --dump PREFIX` wrote (.input, .output: stampvet's
//   probabilities for that input), checked first (1e-4, as lc_torch.py).
// Session as ort_bench.js: intraOpNumThreads = THREADS, interOpNumThreads 1,
// sequential execution, graph optimisation "all".  Prints
//   max |ort - stampvet| = D over B x K probabilities
//   ort_seq_per_s X
'use strict';
const { ort, session, readF32 } = require('./ort_util.js');

async function main() {
  const [model, prefix, thrS, batS, stepsS, featS, secS] = process.argv.slice(2);
  if (!secS) {
    console.error('usage: node ort_lc.js FILE.onnx PREFIX THREADS BATCH STEPS FEATURES SECONDS');
    process.exit(2);
  }
  const B = Number(batS), T = Number(stepsS), F = Number(featS), seconds = Number(secS);
  const sess = await session(model, Number(thrS));
  const x = readF32(prefix + '.input'), ref = readF32(prefix + '.output');
  if (x.length !== B * T * F) { console.error('ort_lc: input size does not match'); process.exit(1); }
  const feeds = { x: new ort.Tensor('float32', x, [B, T, F]) };
  const y = (await sess.run(feeds)).p.data;
  let d = 0;
  for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(y[i] - ref[i]));
  console.log(`max |ort - stampvet| = ${d.toPrecision(3)} over ${B} x ${ref.length / B} probabilities`);
  if (d > 1e-4) { console.error('ort_lc: ORT does not reproduce stampvet'); process.exit(1); }
  await sess.run(feeds); // warm-up
  let done = 0;
  const t0 = process.hrtime.bigint();
  let t;
  for (;;) {
    await sess.run(feeds);
    done += B;
    t = Number(process.hrtime.bigint() - t0) * 1e-9;
    if (t >= seconds) break;
  }
  console.log(`ort_seq_per_s ${(done / t).toFixed(1)}`);
  await sess.release();
}
main().catch(e => { console.error('ort_lc:', e.message || e); process.exit(1); });
