/**
 * Whole-network throughput in one process on the same model, batch and thread count: ONNX Runtime fp32, arq's
 * native fp32 plan, arq's integer engine under uniform policies, and ONNX Runtime running arq's W8A8 QDQ export
 * (which it fuses into QLinearConv/QGemm: its own int8 path). Prints images/second (the median of interleaved
 * rounds, src/util/timing.ts) and ratios (of the medians, with the range of the per-round ratios and the ratio of
 * each engine's best round), per thread count and batch size. ONNX Runtime runs a batch layer by layer over all its
 * images, so its activations leave the caches as the batch grows; arq runs chunks of 8 images through the whole
 * network, so its rate does not depend on the batch.
 *
 *   npm run bench -- network [--model test/fixtures/resnet20.onnx] [--batch 256[,1024,...]] [--threads 1,2]
 *     [--repeats 5] [--min-ms 500] [--policy P.json[,Q.json]] [--profile-seconds 0]
 *
 * Besides W8A8 over ONNX Runtime, it prints W4A4, W2A2 and (with --policy, mixed policies of the model such as a
 * search's winners, each labelled by its file name) each policy over W8A8: what the lower BitOps buy in speed on this
 * CPU. The plans take the
 * table-lookup GEMM where its measured rule picks it (native/engine/lut_dispatch.h); "W2A2 int8" is W2A2 with every
 * layer on the int8 path, so "W2A2/W2A2 int8" is what the lookup layers gain.
 *
 * --profile-seconds S (on a shared machine, where a whole run's rate moves with the other work): after the rates,
 * the integer plans of W8A8, W4A4, W2A2, W2A2 int8 and the policies profiled in alternating rounds for S seconds at
 * the first batch and each thread count; each plan's thread-time per image is the sum over its steps of each step's
 * least time in a round (a preempted step only grows), and each ratio is W8A8's time over the plan's (its speed).
 */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/onnx/model.js';
import { createClassifier } from '../src/engine/classifier.js';
import { IntPlan, intPlanSpec, type BitWidths } from '../src/engine/int-plan.js';
import { loadPolicy, uniformPolicy } from '../src/quant/policy.js';
import { exportQdq } from '../src/onnx/qdq.js';
import { OrtModel } from '../src/ort/session.js';
import { cpuInfo, setLutDispatch } from '../src/native.js';
import { alternatingProfiles } from './support/lookup.js';
import { benchCalibration, patternImages } from './support/inputs.js';
import { interleavedSamples, median, type Engine } from '../src/util/timing.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'test/fixtures/resnet20.onnx' },
    batch: { type: 'string', default: '256' },
    threads: { type: 'string', default: '1,2' },
    repeats: { type: 'string', default: '5' },
    'min-ms': { type: 'string', default: '500' },
    policy: { type: 'string' },
    'profile-seconds': { type: 'string', default: '0' },
  },
});

const model = await loadModel(values.model);
const batches = values.batch.split(',').map(Number);
if (batches.some((b) => !Number.isInteger(b) || b <= 0)) throw new Error(`--batch: positive integers, got ${values.batch}`);
const largest = Math.max(...batches);
const shape = model.graph.input.shape;
const size = shape[0] * shape[1] * shape[2];
const images = patternImages(largest * size);
// Calibration on noisy copies of the first benchmark images (sigma 0.25): the speed does not depend on the grids.
const calibrationCount = Math.min(largest, 128);
const calibration = await benchCalibration(model.graph, images.subarray(0, calibrationCount * size), { count: calibrationCount });
const policies = [[8, 8], [4, 8], [4, 4], [2, 8], [2, 2]] as const;
const mixed = await Promise.all((values.policy?.split(',') ?? []).map(async (file) => ({ label: basename(file, '.json'), policy: await loadPolicy(file, model.graph, model.sha256) })));
const qdq = exportQdq(model.graph, intPlanSpec(model.graph, uniformPolicy(model.graph, model.sha256, 8, 8), calibration));

const cpu = cpuInfo();
console.log(`model ${values.model}, CPU ${cpu.detected}, kernels at ${cpu.active} (${cpu.threads} hardware threads); images/second`);
const header = ['threads', 'batch', 'ort fp32', 'ort int8 (QDQ)', 'arq fp32', ...policies.map(([w, a]) => `arq W${w}A${a}`),
  'arq W2A2 int8', ...mixed.map((m) => `arq ${m.label}`), 'W8A8/ort fp32', 'W8A8/ort int8', 'W4A4/W8A8', 'W2A2/W8A8', 'W2A2/W2A2 int8',
  ...mixed.map((m) => `${m.label}/W8A8`)];
console.log(header.join('\t'));
for (const threads of values.threads.split(',').map(Number)) {
  const ort = await createClassifier(model, 'ort', { threads });
  const ortQdq = await OrtModel.load(qdq, model.graph.input.shape, model.graph.input.rank, { threads });
  const native = await createClassifier(model, 'float', { threads });
  const engines: Engine[] = [
    { label: 'ort fp32', run: (x, n) => ort.logits(x, n) },
    { label: 'ort int8', run: (x, n) => ortQdq.run(x, n) },
    { label: 'arq fp32', run: (x, n) => native.logits(x, n) },
  ];
  for (const [wbits, abits] of policies) {
    const int = await createClassifier(model, 'int', { threads, quantization: { policy: uniformPolicy(model.graph, model.sha256, wbits, abits), calibration } });
    engines.push({ label: `arq W${wbits}A${abits}`, run: (x, n) => int.logits(x, n) });
  }
  setLutDispatch('never');
  const int8 = await createClassifier(model, 'int', { threads, quantization: { policy: uniformPolicy(model.graph, model.sha256, 2, 2), calibration } });
  setLutDispatch('measured');
  engines.push({ label: 'arq W2A2 int8', run: (x, n) => int8.logits(x, n) });
  for (const { label, policy } of mixed) {
    const int = await createClassifier(model, 'int', { threads, quantization: { policy, calibration } });
    engines.push({ label: `arq ${label}`, run: (x, n) => int.logits(x, n) });
  }
  const at = (label: string) => engines.findIndex((e) => e.label === label);
  for (const batch of batches) {
    const samples = await interleavedSamples(engines, images.subarray(0, batch * size), batch, Number(values.repeats), Number(values['min-ms']));
    const rates = samples.map(median);
    // One engine over another: the ratio of the medians, the range of the per-round ratios, and the ratio of the best
    // rounds (on a shared machine other work only slows a round down, so the best rounds are the least disturbed).
    const ratio = (label: string, other: string) => {
      const [i, j] = [at(label), at(other)];
      const perRound = samples[i].map((rate, round) => rate / samples[j][round]);
      const best = Math.max(...samples[i]) / Math.max(...samples[j]);
      return `${(rates[i] / rates[j]).toFixed(2)} (${Math.min(...perRound).toFixed(2)}-${Math.max(...perRound).toFixed(2)}; best ${best.toFixed(2)})`;
    };
    const lowBits = [ratio('arq W4A4', 'arq W8A8'), ratio('arq W2A2', 'arq W8A8'), ratio('arq W2A2', 'arq W2A2 int8'), ...mixed.map((m) => ratio(`arq ${m.label}`, 'arq W8A8'))];
    console.log([threads, batch, ...rates.map((r) => r.toFixed(0)), ratio('arq W8A8', 'ort fp32'), ratio('arq W8A8', 'ort int8'), ...lowBits].join('\t'));
  }
  await ort.close();
  await ortQdq.release();
}

const profileSeconds = Number(values['profile-seconds']);
if (profileSeconds > 0) {
  const batch = batches[0];
  const plans: { label: string; plan: IntPlan; steps: number }[] = [];
  const add = (label: string, policy: BitWidths, mode: 'measured' | 'never' = 'measured') => {
    setLutDispatch(mode);
    plans.push({ label, plan: IntPlan.build(model.graph, policy, calibration), steps: intPlanSpec(model.graph, policy, calibration).ops.length + 2 });
    setLutDispatch('measured');
  };
  for (const [w, a] of [[8, 8], [4, 4], [2, 2]] as const) add(`W${w}A${a}`, uniformPolicy(model.graph, model.sha256, w, a));
  add('W2A2 int8', uniformPolicy(model.graph, model.sha256, 2, 2), 'never');
  for (const { label, policy } of mixed) add(label, policy);
  console.log(`\nleast thread-time per image (us; sum over each plan's steps of the step's least time in ${profileSeconds} s of alternating profiled rounds, batch ${batch}) and W8A8's over each plan's`);
  console.log(['threads', 'rounds', ...plans.map((p) => p.label), ...plans.slice(1).map((p) => `${p.label} speed/W8A8`), 'W2A2/W2A2 int8'].join('\t'));
  for (const threads of values.threads.split(',').map(Number)) {
    const { best, batches: rounds } = await alternatingProfiles(plans.map((p) => p.plan), images.subarray(0, batch * size), batch, threads, profileSeconds, Math.max(...plans.map((p) => p.steps)));
    const perImage = best.map((steps, i) => (1e6 * steps.subarray(0, plans[i].steps).reduce((sum, s) => sum + s, 0)) / batch);
    const at = (label: string) => perImage[plans.findIndex((p) => p.label === label)];
    console.log([threads, rounds, ...perImage.map((t) => t.toFixed(1)), ...perImage.slice(1).map((t) => (perImage[0] / t).toFixed(2)), (at('W2A2 int8') / at('W2A2')).toFixed(2)].join('\t'));
  }
}
