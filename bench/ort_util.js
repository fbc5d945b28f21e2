// ort_util.js — what bench/ort_bench.js, ort_acai.js and ort_lc.js share:
// ONNX Runtime (npm onnxruntime-node in bench/node_modules) and the timing.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

// A CPU session: intraOpNumThreads = threads, interOpNumThreads = 1,
// sequential execution, graph optimisation level "all".
function session(model, threads) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', executionProviders: ['cpu'],
  });
}

// A little-endian float32 file as a Float32Array.
function readF32(p) {
  const b = fs.readFileSync(p);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

// n uniform values in [0, 0.25) from a fixed linear congruential sequence.
function uniform(n, seed = 12345) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) { seed = (seed * 1103515245 + 12345) >>> 0; x[i] = (seed / 4294967296) * 0.25; }
  return x;
}

// Samples per second of sess.run(feeds) (batch samples per call): one
// warm-up, calls sized to runs of about `seconds`, then `runs` runs; returns
// the per-run rates.
async function rates(sess, feeds, batch, runs, seconds) {
  await sess.run(feeds);
  let iters = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) await sess.run(feeds);
    const dt = Number(process.hrtime.bigint() - t0) * 1e-9;
    if (dt > 0.2) { iters = Math.max(1, Math.round(iters * seconds / dt)); break; }
    iters *= 2;
  }
  const out = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) await sess.run(feeds);
    out.push(iters * batch / (Number(process.hrtime.bigint() - t0) * 1e-9));
  }
  return out;
}

// The benchmark line every script prints.
function report(threads, batch, r) {
  console.log(`ort threads=${threads} batch=${batch} stamps_per_s=${median(r).toFixed(1)} runs=${r.map(v => v.toFixed(0)).join(',')}`);
}

module.exports = { ort, session, readF32, median, uniform, rates, report };
