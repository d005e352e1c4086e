/**
 * The cost of one interval bound propagation (native/verify/bounds.cc) as a multiple of one integer forward pass of
 * the same batch, on the same plan and thread count: the forward is IntPlan.run; the IBP pass is verifyBoxes with no
 * concrete points and no splits (per box: the bounds of every value, the margins, and, when undecided, the choice of
 * the split it may not make), threads over boxes. Images/second are the median of interleaved rounds
 * (bench/support/timing.ts).
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
import { interleavedSamples, median } from './support/timing.js';

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
console.log(['model', 'policy', 'int forward', 'IBP pass', 'IBP / forward (time)', 'verified by IBP'].join('\t'));
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
    const samples = await interleavedSamples([
      { label: 'forward', run: (x, n) => plan.run(x, n, threads) },
      {
        label: 'ibp',
        run: async (_x, n) => {
          const result = await plan.verifyBoxes({ lo, hi, labels, timeoutMs: 1e9, maxSplits: 0, concretePoints: false, threads });
          verified = result.outcome.filter((o) => o === 1).length;
          return new Float32Array(n);
        },
      },
    ], images, batch, Number(values.repeats), Number(values['min-ms']));
    const [forward, ibp] = samples.map(median);
    console.log([path, `W${wbits}A${abits}`, forward.toFixed(0), ibp.toFixed(0), (forward / ibp).toFixed(2), `${verified}/${batch}`].join('\t'));
  }
}
