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
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

function readF32(p) {
  const b = fs.readFileSync(p);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}
function median(a) {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}
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
    const sess = await ort.InferenceSession.create(path.join(work, 'acai.onnx'), {
      intraOpNumThreads: t, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all', executionProviders: ['cpu'],
    });
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
      const f = new Float32Array(b * 25), x = new Float32Array(b * S);
      let seed = 12345;
      const u = () => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed / 4294967296) * 0.25; };
      for (let i = 0; i < f.length; i++) f[i] = u();
      for (let i = 0; i < x.length; i++) x[i] = u();
      const fd = feeds(f, x, b);
      let iters = 1, t0;
      await sess.run(fd);
      for (;;) {
        t0 = process.hrtime.bigint();
        for (let i = 0; i < iters; i++) await sess.run(fd);
        const dt = Number(process.hrtime.bigint() - t0) * 1e-9;
        if (dt > 0.2) { iters = Math.max(1, Math.round(iters * seconds / dt)); break; }
        iters *= 2;
      }
      const rates = [];
      for (let r = 0; r < runs; r++) {
        t0 = process.hrtime.bigint();
        for (let i = 0; i < iters; i++) await sess.run(fd);
        rates.push(iters * b / (Number(process.hrtime.bigint() - t0) * 1e-9));
      }
      console.log(`ort threads=${t} batch=${b} stamps_per_s=${median(rates).toFixed(1)} runs=${rates.map(v => v.toFixed(0)).join(',')}`);
    }
    await sess.release();
  }
}
main().catch(e => { console.error('ort_acai:', e.message || e); process.exit(1); });
