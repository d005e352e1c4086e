/**
 * Certifying a QDQ file made by another tool: the sampling loop (noise + inference + arg-max + counting, what CERTIFY
 * spends its time on) of arq's integer engine on the file's own grids against ONNX Runtime running the same file (in
 * a worker, with the same noise), in one process on the same machine, batch and thread count. Also the top-1
 * agreement of the two on the noisy samples drawn for one image.
 *
 *   npm run bench -- qdq [--model test/fixtures/qdq/ort-u8-perchannel.onnx] [--samples 20000] [--batch 400] [--threads 2]
 */
import { loadModel } from '../src/onnx/model.js';
import { loadDataset } from '../src/data/index.js';
import { createSampler, type Sampler } from '../src/smoothing/sampler.js';
import { cpuInfo } from '../src/native.js';
import { samplingArgs, samplingRate } from './support/sampling.js';

const { model: modelPath, samples, batch, threads, sigma } = samplingArgs({ model: 'test/fixtures/qdq/ort-u8-perchannel.onnx', samples: 20000 });
const model = await loadModel(modelPath);
const image = (await loadDataset('mnist:test', 'test', { limit: 1 })).images;
const options = { sigma, seed: 0, batch, threads };

async function measure(sampler: Sampler): Promise<{ rate: number; counts: Uint32Array }> {
  const result = await samplingRate(sampler, image, batch, samples);
  await sampler.close();
  return result;
}

const ort = await measure(await createSampler(model, 'ort', options));
const int = await measure(await createSampler(model, 'int', options));

console.log(`model ${modelPath} (QDQ, ${model.producer}), ${samples} noisy samples of MNIST test image 0 at sigma ${sigma}, batch ${batch}, ${threads} threads, CPU ${cpuInfo().detected}`);
console.log('sampler\tsamples/s\tclass counts');
console.log(`ONNX Runtime on the QDQ file (worker)\t${ort.rate.toFixed(0)}\t${Array.from(ort.counts).join(' ')}`);
console.log(`arq integer engine, the file's grids\t${int.rate.toFixed(0)}\t${Array.from(int.counts).join(' ')}`);
console.log(`arq / ONNX Runtime\t${(int.rate / ort.rate).toFixed(2)}`);
