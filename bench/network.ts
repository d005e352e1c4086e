/**
 * Whole-network fp32 throughput: arq's native fp32 plan against ONNX Runtime on the same model, machine, batch
 * and thread count, in one process. Prints samples/second and the ratio.
 *
 *   npm run bench -- network [--model test/fixtures/resnet20.onnx] [--batch 256] [--threads 1,2] [--seconds 3]
 */
import { parseArgs } from 'node:util';
import { loadModel } from '../src/model.js';
import { createClassifier, type Classifier } from '../src/engine/classifier.js';
import { cpuInfo } from '../src/native.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'test/fixtures/resnet20.onnx' },
    batch: { type: 'string', default: '256' },
    threads: { type: 'string', default: '1,2' },
    seconds: { type: 'string', default: '3' },
  },
});

async function samplesPerSecond(classifier: Classifier, images: Float32Array, batch: number, seconds: number): Promise<number> {
  await classifier.logits(images, batch); // warm-up
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000 || runs < 2) {
    await classifier.logits(images, batch);
    runs++;
  }
  return (runs * batch) / ((performance.now() - start) / 1000);
}

const model = await loadModel(values.model!);
const batch = Number(values.batch);
const seconds = Number(values.seconds);
const size = model.graph.input.shape.reduce((a, b) => a * b, 1);
const images = Float32Array.from({ length: batch * size }, (_, i) => ((i * 2654435761) % 1000) / 1000);
const cpu = cpuInfo();
console.log(`model ${values.model}, batch ${batch}, CPU ${cpu.detected} (${cpu.threads} hardware threads)`);
console.log('threads  ort fp32 (img/s)  arq fp32 (img/s)  arq/ort');
for (const threads of values.threads!.split(',').map(Number)) {
  const ort = await createClassifier(model, 'ort', { threads });
  const native = await createClassifier(model, 'float', { threads });
  const ortRate = await samplesPerSecond(ort, images, batch, seconds);
  const nativeRate = await samplesPerSecond(native, images, batch, seconds);
  console.log(`${String(threads).padStart(7)}  ${ortRate.toFixed(0).padStart(16)}  ${nativeRate.toFixed(0).padStart(16)}  ${(nativeRate / ortRate).toFixed(2).padStart(7)}`);
  await ort.close();
  await native.close();
}
