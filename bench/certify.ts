/**
 * Certification throughput in one process on the same model, machine, batch and thread count: noisy samples
 * classified per second by the sampling loop (noise + inference + arg-max + counting) with ONNX Runtime fp32 (in a
 * worker), arq's fp32 plan and arq's W8A8 plan, plus the cost of the noise itself against the network's time.
 *
 *   npm run bench -- certify [--model test/fixtures/resnet20.onnx] [--samples 4000] [--batch 400] [--threads 2]
 */
import { loadModel } from '../src/onnx/model.js';
import { FloatPlan } from '../src/engine/float-plan.js';
import { IntPlan } from '../src/engine/int-plan.js';
import { shapeSize } from '../src/graph/ir.js';
import { uniformPolicy } from '../src/quant/policy.js';
import { nativeSampler, ortSampler, type Sampler } from '../src/smoothing/sampler.js';
import { cpuInfo, noise } from '../src/native.js';
import { benchCalibration, patternImages } from './support/inputs.js';
import { samplingArgs, samplingRate } from './support/sampling.js';

const { model: modelPath, samples, batch, threads, sigma } = samplingArgs({ model: 'test/fixtures/resnet20.onnx', samples: 4000 });
const model = await loadModel(modelPath);
const size = shapeSize(model.graph.input.shape);
const image = patternImages(size);
const calibrationImages = Float32Array.from({ length: 64 * size }, (_, i) => ((i * 40503) % 1000) / 1000);
const calibration = await benchCalibration(model.graph, calibrationImages, { count: 64, sigma });
const options = { sigma, seed: 0, batch, threads };

const rate = async (sampler: Sampler): Promise<number> => (await samplingRate(sampler, image, batch, samples)).rate;

const ort = await ortSampler(model, options);
const ortRate = await rate(ort);
await ort.close();
const floatRate = await rate(nativeSampler(FloatPlan.build(model.graph), size, options));
const int8 = IntPlan.build(model.graph, uniformPolicy(model.graph, model.sha256, 8, 8), calibration);
const intRate = await rate(nativeSampler(int8, size, options));

// Noise alone at the same batch, timed natively (no result copies): the sampling loop splits a batch's noise over
// the same threads as the network.
const isa = cpuInfo().active;
const fills = 20;
const noisePerBatch = noise().fillTime(isa, size, fills * batch) / fills / threads;
const networkPerBatch = batch / intRate - noisePerBatch;

console.log(`model ${modelPath}, ${samples} samples of one image, batch ${batch}, ${threads} threads, CPU ${cpuInfo().detected}`);
console.log('sampler\tsamples/s');
console.log(`ort fp32 (worker)\t${ortRate.toFixed(0)}`);
console.log(`arq fp32\t${floatRate.toFixed(0)}`);
console.log(`arq W8A8\t${intRate.toFixed(0)}`);
console.log(`W8A8 / ort fp32\t${(intRate / ortRate).toFixed(2)}`);
console.log(`noise per batch (${threads} threads) ${(noisePerBatch * 1e3).toFixed(2)} ms vs W8A8 network ${(networkPerBatch * 1e3).toFixed(2)} ms: ${((100 * noisePerBatch) / networkPerBatch).toFixed(1)}% of the network's time`);
