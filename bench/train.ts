/**
 * Training throughput of arq's native trainer (forward + backward + SGD step, batch norm in training mode) on a
 * ResNet-20-style network, beside ONNX Runtime's and arq's fp32 inference of the same network (exported by the
 * trainer, batch norm folded at import). Prints samples/second and the training/inference ratios.
 *
 *   npm run bench -- train [--arch resnet20] [--input 3,32,32] [--batch 128] [--threads 1,2] [--seconds 5]
 */
import { parseArgs } from 'node:util';
import { createClassifier } from '../src/engine/classifier.js';
import { modelFromBytes } from '../src/onnx/model.js';
import { cpuInfo } from '../src/native.js';
import { ARCHITECTURES, buildArchitecture, type ArchitectureName } from '../src/train/architectures.js';
import { exportTrainGraph } from '../src/train/export.js';
import { TrainNet } from '../src/train/native-net.js';
import { patternImages } from './support/inputs.js';

const { values } = parseArgs({
  options: {
    arch: { type: 'string', default: 'resnet20' },
    input: { type: 'string', default: '3,32,32' },
    batch: { type: 'string', default: '128' },
    threads: { type: 'string', default: '1,2' },
    seconds: { type: 'string', default: '5' },
  },
});

const arch = values.arch as ArchitectureName;
if (!ARCHITECTURES.includes(arch)) throw new Error(`--arch must be one of ${ARCHITECTURES.join(', ')}`);
const [c, h, w] = values.input.split(',').map(Number);
const batch = Number(values.batch);
const seconds = Number(values.seconds);
const graph = buildArchitecture(arch, { input: [c, h, w], classes: 10, seed: 0 });
const size = c * h * w;
const images = patternImages(batch * size);
const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
const model = modelFromBytes(exportTrainGraph(graph), `${arch} (initial weights)`);

/** Samples per second of `run` (one warm-up call, then at least `seconds` and two calls). */
async function rate(run: () => Promise<unknown>): Promise<number> {
  await run();
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000 || runs < 2) {
    await run();
    runs++;
  }
  return (runs * batch) / ((performance.now() - start) / 1000);
}

const cpu = cpuInfo();
console.log(`${arch} [${c},${h},${w}], batch ${batch}, CPU ${cpu.detected} (${cpu.threads} hardware threads); samples/second`);
console.log(['threads', 'arq train step', 'ort fp32 inference', 'arq fp32 inference', 'train/ort inference'].join('\t'));
for (const threads of values.threads.split(',').map(Number)) {
  const net = TrainNet.build(graph);
  const training = await rate(() => net.step({ input: images, labels, batch, threads }, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 }));
  const ort = await createClassifier(model, 'ort', { threads });
  const native = await createClassifier(model, 'float', { threads });
  const ortRate = await rate(() => ort.logits(images, batch));
  const nativeRate = await rate(() => native.logits(images, batch));
  await ort.close();
  await native.close();
  console.log([threads, training.toFixed(0), ortRate.toFixed(0), nativeRate.toFixed(0), (training / ortRate).toFixed(3)].join('\t'));
}
