/**
 * The cost of one interval bound propagation (native/verify) as a multiple of one integer forward pass of the same
 * batch, on the same plan and thread count. The forward is IntPlan.run. The IBP pass is intervalBounds with labels and
 * options.values false: per box the bounds of the output and the margins, by the paired plan (the engine itself on
 * both ends of every value, native/verify/paired_plan.h) where the plan has one. The verifier's step is verifyBoxes
 * with no concrete points and no splits: the same bounds, and for an undecided box the choice of the split it may not
 * make (the first layers' codes at both ends). Images/second are the median of interleaved rounds
 * (src/util/timing.ts); the ratios are given by wall-clock time and by the process's CPU time over all measured
 * rounds (steadier on a shared machine: another process's load slows a call's wall clock, not its CPU time).
 *
 *   npm run bench -- ibp [--model models/mnist-cnn-s025.onnx,models/resnet20-mnist-s025.onnx] [--bits 8x8,4x4]
 *     [--batch 64] [--threads 1] [--eps 2/255] [--repeats 5] [--min-ms 500]
 */
import { parseArgs } from 'node:util';
import { loadModel } from '../src/onnx/model.js';
import { intPlanSpec } from '../src/engine/int-plan.js';
import { uniformPolicy } from '../src/quant/policy.js';
import { addon, cpuInfo } from '../src/native.js';
import { benchCalibration, patternImages } from './support/inputs.js';
import { interleavedSamples, median } from '../src/util/timing.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/mnist-cnn-s025.onnx,models/resnet20-mnist-s025.onnx' },
    bits: { type: 'string', default: '8x8,4x4' },
    batch: { type: 'string', default: '64' },
    threads: { type: 'string', default: '1' },
    eps: { type: 'string', default: '2/255' },
    repeats: { type: 'string', default: '5' },
    'min-ms': { type: 'string', default: '500' },
  },
});

const batch = Number(values.batch);
const threads = Number(values.threads);
const [num, den = '1'] = values.eps.split('/');
const eps = Number(num) / Number(den);
if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(threads) || threads < 1 || !(eps >= 0 && eps <= 1)) {
  throw new Error('--batch and --threads: positive integers; --eps: a number or fraction in [0, 1]');
}
const cpu = cpuInfo();
console.log(`CPU ${cpu.detected}, ${threads} thread(s), batch ${batch}, eps ${values.eps}; images/second (median of ${values.repeats} rounds)`);
console.log(['model', 'policy', 'int forward', 'IBP pass', 'verifier step', 'IBP / forward (wall)', 'step / forward (wall)', 'IBP / forward (CPU)', 'step / forward (CPU)', 'verified by IBP'].join('\t'));

/** CPU seconds of the whole process (every thread) spent in `run`'s calls after its first `skip` (the warm-up). */
function cpuTimed(run: (x: Float32Array, n: number) => Promise<Float32Array>, skip: number) {
  const total = { seconds: 0, calls: 0 };
  const timed = async (x: Float32Array, n: number) => {
    const start = process.cpuUsage();
    const out = await run(x, n);
    const used = process.cpuUsage(start);
    if (++total.calls > skip) total.seconds += (used.user + used.system) / 1e6;
    return out;
  };
  return { timed, total };
}
for (const path of values.model.split(',')) {
  const model = await loadModel(path);
  const shape = model.graph.input.shape;
  const size = shape[0] * shape[1] * shape[2];
  const images = patternImages(batch * size);
  const calibration = await benchCalibration(model.graph, images, { count: batch });
  const lo = Float32Array.from(images, (x) => Math.max(0, x - eps));
  const hi = Float32Array.from(images, (x) => Math.min(1, x + eps));
  for (const bits of values.bits.split(',')) {
    const [wbits, abits] = bits.split('x').map(Number);
    const plan = new (addon().IntPlan)(intPlanSpec(model.graph, uniformPolicy(model.graph, model.sha256, wbits, abits), calibration));
    const logits = await plan.run(images, batch, threads);
    const labels = Int32Array.from({ length: batch }, (_, b) => {
      const row = Array.from(logits.subarray(b * plan.classes, (b + 1) * plan.classes));
      return row.indexOf(Math.max(...row));
    });
    let verified = 0;
    const forward = cpuTimed((x, n) => plan.run(x, n, threads), 3);
    const ibp = cpuTimed(async (_x, n) => {
      const result = await plan.intervalBounds(lo, hi, n, threads, labels, { values: false });
      verified = result.verified.reduce((a, v) => a + v, 0);
      return new Float32Array(n);
    }, 3);
    const step = cpuTimed(async (_x, n) => {
      await plan.verifyBoxes({ lo, hi, labels, timeoutMs: 1e9, maxSplits: 0, concretePoints: false, threads });
      return new Float32Array(n);
    }, 3);
    const samples = await interleavedSamples([
      { label: 'forward', run: forward.timed },
      { label: 'ibp', run: ibp.timed },
      { label: 'step', run: step.timed },
    ], images, batch, Number(values.repeats), Number(values['min-ms']));
    const [forwardRate, ibpRate, stepRate] = samples.map(median);
    // CPU seconds per call: the rounds run each engine a different number of calls.
    const perCall = (t: { seconds: number; calls: number }) => t.seconds / (t.calls - 3);
    console.log([
      path, `W${wbits}A${abits}`, forwardRate.toFixed(0), ibpRate.toFixed(0), stepRate.toFixed(0), (forwardRate / ibpRate).toFixed(2),
      (forwardRate / stepRate).toFixed(2), (perCall(ibp.total) / perCall(forward.total)).toFixed(2),
      (perCall(step.total) / perCall(forward.total)).toFixed(2), `${verified}/${batch}`,
    ].join('\t'));
  }
}
