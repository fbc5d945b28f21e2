#!/usr/bin/env node
// ort_acai.js — ONNX Runtime (npm onnxruntime-node, CPU provider) throughput
// on the ACAI-shaped ONNX file made by acai_torch.py (two inputs).
//
// usage: node ort_acai.js WORKDIR THREADS BATCHES RUNS SECONDS
//   WORKDIR: where acai_torch.py wrote acai.onnx and the parity files
//   (check_features.f32, check_triplets.f32 NCHW, check_output.f32).
// Sessions as ort_bench.js: intraOpNumThreads = threads, interOpNumThreads
// = 1, sequential execution, graph optimisation "all".  Prints
//   ort threads=T parity max_abs_diff=D stamps=N
//   ort threads=T batch=B stamps_per_s=MEDIAN runs=v1,v2,...
'use strict';
const path = require('path');
const { ort, session, readF32, uniform, rates, report } = require('./ort_util.js');

function feeds(f, x, b) {
  return {
    features: new ort.Tensor('float32', f, [b, 25]),
    triplets: new ort.Tensor('float32', x, [b, 3, 63, 63]),
  };
}

async function main() {
  const [work, thr, bat, runsS, secS] = process.argv.slice(2);
  if (!secS) {
    console.error('usage: node ort_acai.js WORKDIR THREADS BATCHES RUNS SECONDS');
    process.exit(2);
  }
  const threads = thr.split(',').map(Number);
  const batches = bat.split(',').map(Number);
  const runs = Number(runsS), seconds = Number(secS);
  const S = 63 * 63 * 3;
  for (const t of threads) {
    const sess = await session(path.join(work, 'acai.onnx'), t);
    const outName = sess.outputNames[0];
    const cf = readF32(path.join(work, 'check_features.f32'));
    const cx = readF32(path.join(work, 'check_triplets.f32'));
    const cy = readF32(path.join(work, 'check_output.f32'));
    const n = cf.length / 25;
    const y = (await sess.run(feeds(cf, cx, n)))[outName].data;
    let d = 0;
    for (let i = 0; i < cy.length; i++) d = Math.max(d, Math.abs(y[i] - cy[i]));
    console.log(`ort threads=${t} parity max_abs_diff=${d.toExponential(2)} stamps=${n}`);
    if (d > 1e-5) { console.error('ort_acai: ORT does not reproduce the network'); process.exit(1); }
    for (const b of batches) {
      const fd = feeds(uniform(b * 25, 1), uniform(b * S, 2), b);
      report(t, b, await rates(sess, fd, b, runs, seconds));
    }
    await sess.release();
  }
}
main().catch(e => { console.error('ort_acai:', e.message || e); process.exit(1); });
