#!/usr/bin/env node
// ort_bench.js — ONNX Runtime (npm onnxruntime-node, CPU provider) throughput
// on the braai ONNX file made by export_onnx.py.
//
// usage: node ort_bench.js MODEL.onnx DUMPDIR THREADS BATCHES RUNS SECONDS
//   THREADS, BATCHES: comma lists (e.g. 1,2 and 1,16,256)
// Sessions: intraOpNumThreads = threads, interOpNumThreads = 1, sequential
// execution, graph optimisation level "all".  For each (threads, batch) it
// times RUNS runs of about SECONDS each and prints one line
//   ort threads=T batch=B stamps_per_s=MEDIAN runs=v1,v2,...
// Before timing it checks ORT's scores against stampvet's on the stamps of
// DUMPDIR/check_input.f32 (NHWC, transposed here to NCHW).
'use strict';
const fs = require('fs');
const path = require('path');
const { ort, session, readF32, uniform, rates, report } = require('./ort_util.js');

async function main() {
  const [model, dump, thr, bat, runsS, secS] = process.argv.slice(2);
  if (!secS) {
    console.error('usage: node ort_bench.js MODEL.onnx DUMPDIR THREADS BATCHES RUNS SECONDS');
    process.exit(2);
  }
  const threads = thr.split(',').map(Number);
  const batches = bat.split(',').map(Number);
  const runs = Number(runsS), seconds = Number(secS);
  const S = 63 * 63 * 3;
  for (const t of threads) {
    const sess = await session(model, t);
    const inName = sess.inputNames[0], outName = sess.outputNames[0];
    // parity with stampvet
    const ci = path.join(dump, 'check_input.f32'), co = path.join(dump, 'check_output.f32');
    if (fs.existsSync(ci) && fs.existsSync(co)) {
      const xin = readF32(ci), yref = readF32(co);
      const n = yref.length, x = new Float32Array(n * S);
      for (let s = 0; s < n; s++)
        for (let h = 0; h < 63; h++)
          for (let w = 0; w < 63; w++)
            for (let c = 0; c < 3; c++)
              x[s * S + c * 3969 + h * 63 + w] = xin[s * S + (h * 63 + w) * 3 + c];
      const r = await sess.run({ [inName]: new ort.Tensor('float32', x, [n, 3, 63, 63]) });
      const y = r[outName].data;
      let d = 0;
      for (let i = 0; i < n; i++) d = Math.max(d, Math.abs(y[i] - yref[i]));
      console.log(`ort threads=${t} parity max_abs_diff=${d.toExponential(2)} stamps=${n}`);
      if (d > 1e-5) { console.error('ort_bench: ORT does not reproduce stampvet'); process.exit(1); }
    }
    for (const b of batches) {
      const feeds = { [inName]: new ort.Tensor('float32', uniform(b * S), [b, 3, 63, 63]) };
      report(t, b, await rates(sess, feeds, b, runs, seconds));
    }
    await sess.release();
  }
}
main().catch(e => { console.error('ort_bench:', e.message || e); process.exit(1); });
