/**
 * Complete l-infinity verification of the integer plan (src/verify): per model, policy and radius, verified,
 * falsified and timed-out fractions of the images, the time per image, and which stage decided (IBP alone, the
 * attack, the branch and bound; "clean" counts images the plan already misclassifies, "nested" radii decided by a
 * smaller radius's counterexample). Also the cost of one IBP pass as a multiple of one integer forward pass of the
 * same batch.
 *
 *   npm run bench -- verify [--models models/mnist-cnn-s025.onnx,models/resnet20-mnist-s025.onnx] [--data mnist]
 *                           [--images 8] [--eps 1/255,4/255] [--bits w8a8,w4a4] [--timeout 20] [--threads N]
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/index.js';
import { loadModel } from '../src/onnx/model.js';
import { cpuInfo } from '../src/native.js';
import { IntPlan } from '../src/engine/int-plan.js';
import { prepareQuantization } from '../src/quant/quantize.js';
import { rowOf, summarizeVerification } from '../src/verify/results.js';
import { boxOf } from '../src/verify/box.js';
import { verify } from '../src/verify/verify.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'models/mnist-cnn-s025.onnx,models/resnet20-mnist-s025.onnx' },
    data: { type: 'string', default: 'mnist' },
    images: { type: 'string', default: '8' },
    eps: { type: 'string', default: '1/255,4/255' },
    bits: { type: 'string', default: 'w8a8,w4a4' },
    timeout: { type: 'string', default: '20' },
    threads: { type: 'string' },
  },
});

const images = Number(values.images);
const timeout = Number(values.timeout);
const threads = values.threads ? Number(values.threads) : cpuInfo().threads;
const dataset = await loadDataset(values.data!, 'test');
const skip = Math.floor(dataset.count / images);
const eps = values.eps!.split(',');
console.log(`${images} images of ${dataset.name} (every ${skip}th), timeout ${timeout} s per image and radius, ${threads} threads, ISA ${cpuInfo().active}`);

/** Median seconds of `repeat` runs of `call`. */
async function median(repeat: number, call: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const start = performance.now();
    await call();
    times.push((performance.now() - start) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(repeat / 2)];
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
console.log(['model', 'policy', 'eps', 'clean', 'verified', 'falsified', 'timeout', 'IBP', 'attack', 'B&B', 'clean/nested', 's/image', 'IBP/forward'].join('\t'));
for (const modelPath of values.models!.split(',')) {
  const model = await loadModel(modelPath);
  for (const bits of values.bits!.split(',')) {
    const quantization = await prepareQuantization(model, { bits, data: values.data!, sigma: 0.25, calibrationCount: 256, seed: 0 });
    // IBP cost: bounds of a batch of 4/255 boxes against the forward pass of the same batch on one thread.
    const plan = IntPlan.build(model.graph, quantization.policy, quantization.calibration);
    const size = dataset.images.length / dataset.count;
    const batch = 32;
    const x = dataset.images.subarray(0, batch * size);
    const lo = new Float32Array(batch * size);
    const hi = new Float32Array(batch * size);
    for (let b = 0; b < batch; b++) {
      const box = boxOf(x.subarray(b * size, (b + 1) * size), 4 / 255);
      lo.set(box.lo, b * size);
      hi.set(box.hi, b * size);
    }
    const forward = await median(5, () => plan.run(x, batch, 1));
    const bounds = await median(5, () => plan.intervalBounds(lo, hi, batch, 1, dataset.labels.subarray(0, batch)));
    const run = await verify({ model, quantization, dataset, eps, timeout, threads, skip, max: images, seed: 0 });
    const summary = summarizeVerification(run.images.map(rowOf), run.settings.eps, {});
    for (const e of run.settings.eps) {
      const r = summary.results[e];
      const d = r.decided_by;
      const seconds = run.images.reduce((s, image) => s + image.results.find((x) => x.eps === e)!.seconds, 0) / run.images.length;
      console.log([modelPath.replace(/^.*\//, ''), bits, e, pct(summary.clean_accuracy), pct(r.verified), pct(r.falsified), pct(r.timeouts),
        d.ibp, d.attack, d['branch-and-bound'], d.clean + d.nested, seconds.toFixed(2), (bounds / forward).toFixed(2)].join('\t'));
    }
  }
}
