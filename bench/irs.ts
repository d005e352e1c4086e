/**
 * IRS against certifying from scratch: the float model is certified once with an IRS cache, then a quantized plan
 * (W8A8, or a search's policy: an episode's certification) is certified incrementally from the cache and, for
 * comparison, from scratch at the same n; per sigma, the time of each and the speed-up, with the ACR of each (the
 * same samplers, machine and threads, in one process).
 *
 *   npm run bench -- irs [--model models/mnist-cnn-s025.onnx] [--data mnist] [--images 20] [--n 20000] [--sigmas 0.25,0.5,1]
 *                        [--bits w8a8 | --policy arq-search/best-policy.json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/onnx/model.js';
import { loadDataset } from '../src/data/index.js';
import { createSampler } from '../src/smoothing/sampler.js';
import { certifyDataset } from '../src/smoothing/run.js';
import { prepareQuantization } from '../src/quant/quantize.js';
import { cpuInfo } from '../src/native.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/mnist-cnn-s025.onnx' },
    data: { type: 'string', default: 'mnist' },
    images: { type: 'string', default: '20' },
    n: { type: 'string', default: '20000' },
    sigmas: { type: 'string', default: '0.25,0.5,1' },
    batch: { type: 'string', default: '400' },
    bits: { type: 'string' },
    policy: { type: 'string' },
  },
});

const model = await loadModel(values.model);
const dataset = await loadDataset(values.data, 'test');
const images = Number(values.images);
const n = Number(values.n);
const threads = cpuInfo().threads;
const skip = Math.floor(dataset.count / images);
const dir = mkdtempSync(path.join(tmpdir(), 'arq-bench-irs-'));
const quantized = values.policy ? { policy: values.policy } : { bits: values.bits ?? 'w8a8' };
const policyName = values.policy ?? quantized.bits!;
console.log(`model ${values.model}, ${images} images of ${dataset.name}, n0 100, n ${n}, policy ${policyName}, ${threads} threads`);
console.log('sigma\tfloat+cache (s)\tIRS (s)\tfrom scratch (s)\tspeed-up\tACR float\tACR IRS\tACR scratch');
for (const sigma of values.sigmas.split(',').map(Number)) {
  const base = { dataset, n0: 100, n, alpha: 0.001, skip, max: images, overwrite: true };
  const samplerOptions = { sigma, seed: 0, batch: Number(values.batch), threads };
  const cache = path.join(dir, `cache-${sigma}.irs`);
  const float = await createSampler(model, 'float', samplerOptions);
  const reference = await certifyDataset({ ...base, sampler: float, out: path.join(dir, `f-${sigma}.tsv`), identity: { seed: 0, model: model.sha256, engine: 'float' }, cache });
  const quantization = await prepareQuantization(model, { ...quantized, data: values.data, sigma });
  const int8 = await createSampler(model, 'int', { ...samplerOptions, quantization });
  const identity = { seed: 0, model: model.sha256, engine: 'int', policy: policyName };
  const irs = await certifyDataset({ dataset, skip, max: images, overwrite: true, sampler: int8, out: path.join(dir, `i-${sigma}.tsv`), identity, incremental: { cache } });
  const scratch = await certifyDataset({ dataset, skip, max: images, overwrite: true, sampler: int8, out: path.join(dir, `s-${sigma}.tsv`), identity, incremental: { cache, fromScratch: true } });
  const row = [sigma, reference.summary.seconds.toFixed(2), irs.summary.seconds.toFixed(2), scratch.summary.seconds.toFixed(2),
    (scratch.summary.seconds / irs.summary.seconds).toFixed(2), reference.summary.acr.toFixed(3), irs.summary.acr.toFixed(3), scratch.summary.acr.toFixed(3)];
  console.log(row.join('\t'));
}
rmSync(dir, { recursive: true, force: true });
