/**
 * Complete l-infinity verification of the integer plan (src/verify): per model, policy and radius, verified,
 * falsified and timed-out fractions of the images, the time and splits per image, and which stage decided (IBP alone, the
 * attack, the branch and bound; "clean" counts images the plan already misclassifies, "nested" radii decided by a
 * smaller radius's counterexample). The cost of one IBP pass against a forward pass is bench/ibp.ts's.
 *
 *   npm run bench -- verify [--models models/mnist-cnn-s025.onnx,models/resnet20-mnist-s025.onnx] [--data mnist]
 *                           [--images 8] [--eps 1/255,4/255] [--bits w8a8,w4a4] [--timeout 20] [--threads N]
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/index.js';
import { loadModel } from '../src/onnx/model.js';
import { cpuInfo } from '../src/native.js';
import { prepareQuantization } from '../src/quant/quantize.js';
import { rowOf, summarizeVerification } from '../src/verify/results.js';
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
const dataset = await loadDataset(values.data, 'test');
const skip = Math.floor(dataset.count / images);
const eps = values.eps.split(',');
console.log(`${images} images of ${dataset.name} (every ${skip}th), timeout ${timeout} s per image and radius, ${threads} threads, ISA ${cpuInfo().active}`);

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
console.log(['model', 'policy', 'eps', 'clean', 'verified', 'falsified', 'timeout', 'IBP', 'attack', 'B&B', 'clean/nested', 's/image', 'splits/image'].join('\t'));
for (const modelPath of values.models.split(',')) {
  const model = await loadModel(modelPath);
  for (const bits of values.bits.split(',')) {
    const quantization = await prepareQuantization(model, { bits, data: values.data, sigma: 0.25, calibrationCount: 256, seed: 0 });
    const run = await verify({ model, quantization, dataset, eps, timeout, threads, skip, max: images, seed: 0 });
    const summary = summarizeVerification(run.images.map(rowOf), run.settings.eps, {});
    for (const e of run.settings.eps) {
      const r = summary.results[e];
      const d = r.decided_by;
      const mean = (of: (result: (typeof run.images)[number]['results'][number]) => number) =>
        run.images.reduce((s, image) => s + of(image.results.find((x) => x.eps === e)!), 0) / run.images.length;
      console.log([modelPath.replace(/^.*\//, ''), bits, e, pct(summary.clean_accuracy), pct(r.verified), pct(r.falsified), pct(r.timeouts),
        d.ibp, d.attack, d['branch-and-bound'], d.clean + d.nested, mean((x) => x.seconds).toFixed(2), mean((x) => x.splits).toFixed(0)].join('\t'));
    }
  }
}
