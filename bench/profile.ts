/**
 * Where the integer engine spends its time inside a whole network: the plan's own per-step timers (IntPlan.profile,
 * two clock reads per op and image chunk) over several batches, per policy. Unlike `bench layers`, which runs each
 * layer alone with float input and output, these are the in-network costs: codes in, codes out, fused adds, bordered
 * storage. Prints per op: thread-microseconds per image, share of the total, and for Conv/Gemm the GOPS reached
 * (2 x MACs / time per thread) and its fraction of the machine's measured int8 dot-product peak.
 *
 *   npm run bench -- profile [--model test/fixtures/resnet20.onnx] [--bits w8a8,w4a4] [--threads 2] [--batch 256]
 *     [--seconds 3] [--lookup]
 *
 * --lookup: per policy, the plan with every layer the table-lookup GEMM can run on it ('always') against the plan on
 * the int8 path ('never'), profiled in alternating rounds; prints per Conv/Gemm its GEMM shape (N output channels,
 * depth K), both times and int8 / lookup (above 1: lookup is faster). The table behind native/engine/lut_dispatch.cc.
 */
import { parseArgs } from 'node:util';
import { loadModel } from '../src/onnx/model.js';
import { shapeSize } from '../src/graph/ir.js';
import { layerCosts } from '../src/graph/cost.js';
import { IntPlan, intPlanSpec } from '../src/engine/int-plan.js';
import { parseBits, uniformPolicy } from '../src/quant/policy.js';
import { cpuInfo, kernelTiming, setLutDispatch, type IntPlanOp } from '../src/native.js';
import { Random } from '../src/util/random.js';
import { benchCalibration } from './support/inputs.js';
import { alternatingProfiles } from './support/lookup.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'test/fixtures/resnet20.onnx' },
    bits: { type: 'string', default: 'w8a8,w4a4' },
    threads: { type: 'string', default: '2' },
    batch: { type: 'string', default: '256' },
    seconds: { type: 'string', default: '3' },
    lookup: { type: 'boolean', default: false },
  },
});
const batch = Number(values.batch);
const threads = Number(values.threads);
const seconds = Number(values.seconds);

const model = await loadModel(values.model);
const graph = model.graph;
const random = Random.fromSeed(1);
const images = Float32Array.from({ length: batch * shapeSize(graph.input.shape) }, () => random.uniform());
const calibration = await benchCalibration(graph, images, { count: Math.min(batch, 128), threads });
const macs = new Map(layerCosts(graph).map((cost) => [cost.name, cost.macs]));
const peak = kernelTiming().dotPeak(cpuInfo().active, 0.3) / 1e9;

function describe(op: IntPlanOp): string {
  if (op.op === 'conv') return `conv${op.kernel[0]}x${op.kernel[1]}${op.group > 1 ? ` g${op.group}` : ''}${op.strides[0] > 1 ? ` s${op.strides[0]}` : ''} ->${op.outChannels}`;
  if (op.op === 'gemm') return `gemm ->${op.outFeatures}`;
  return op.op;
}

console.log(`${values.model}, batch ${batch}, ${threads} thread(s), CPU ${cpuInfo().detected}; int8 dot-product peak ${peak.toFixed(0)} GOPS per thread`);
if (values.lookup) {
  await lookupTable();
  process.exit(0);
}

async function lookupTable(): Promise<void> {
  for (const text of values.bits.split(',')) {
    const { wbits, abits } = parseBits(text);
    const policy = uniformPolicy(graph, model.sha256, wbits, abits);
    const spec = intPlanSpec(graph, policy, calibration);
    const plans = (['never', 'always'] as const).map((mode) => {
      setLutDispatch(mode);
      return IntPlan.build(graph, policy, calibration);
    });
    setLutDispatch('measured');
    const { totals, batches } = await alternatingProfiles(plans, images, batch, threads, seconds, spec.ops.length + 2);
    const perImage = (s: number) => (1e6 * s) / (batches * batch);
    const sums = totals.map((t) => t.reduce((a, b) => a + b, 0));
    console.log(`
W${wbits}A${abits}: int8 ${plans[0].kernels}; lookup ${plans[1].kernels}; ${batches} rounds`);
    console.log(['step', 'op', 'N', 'K', 'int8 us/img', 'lookup us/img', 'int8/lookup', 'name'].join('\t'));
    spec.ops.forEach((op, i) => {
      if (op.op !== 'conv' && op.op !== 'gemm') return;
      const inputs = op.op === 'conv' ? (op.weight.length / op.outChannels) : op.weight.length / op.outFeatures;
      const n = op.op === 'conv' ? op.outChannels / op.group : op.outFeatures;
      const [a, b] = [totals[0][1 + i], totals[1][1 + i]];
      console.log([i, describe(op), n, inputs, perImage(a).toFixed(2), perImage(b).toFixed(2), (a / b).toFixed(2), op.name ?? ''].join('\t'));
    });
    console.log(`all steps: int8 ${perImage(sums[0]).toFixed(1)} us/img, lookup ${perImage(sums[1]).toFixed(1)} us/img, int8/lookup ${(sums[0] / sums[1]).toFixed(2)}`);
  }
}

for (const text of values.bits.split(',')) {
  const { wbits, abits } = parseBits(text);
  const policy = uniformPolicy(graph, model.sha256, wbits, abits);
  const spec = intPlanSpec(graph, policy, calibration); // for the ops' names and kinds
  const plan = IntPlan.build(graph, policy, calibration);
  await plan.run(images, batch, threads); // warm-up
  const total = new Float64Array(spec.ops.length + 2);
  let batches = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000 || batches < 2) {
    const step = await plan.profile(images, batch, threads);
    step.forEach((s, i) => (total[i] += s));
    batches++;
  }
  const wall = (performance.now() - start) / 1000;
  const sum = total.reduce((a, b) => a + b, 0);
  const perImage = (s: number) => (1e6 * s) / (batches * batch);
  console.log(`\nW${wbits}A${abits}: ${((batches * batch) / wall).toFixed(0)} images/s while profiled; ${perImage(sum).toFixed(1)} thread-us per image in all (${(100 * sum / (wall * threads)).toFixed(0)}% of the threads' wall time inside the plan)`);
  console.log(`kernels: ${plan.kernels}`);
  console.log(['step', 'op', 'us/img', 'share', 'GOPS', 'of peak', 'name'].join('\t'));
  const row = (label: string, op: string, s: number, layerMacs?: number, name = '') => {
    const gops = layerMacs === undefined || s === 0 ? '' : ((2 * layerMacs * batches * batch) / s / 1e9).toFixed(0);
    const ofPeak = gops === '' ? '' : `${((100 * Number(gops)) / peak).toFixed(0)}%`;
    console.log([label, op, perImage(s).toFixed(2), `${((100 * s) / sum).toFixed(1)}%`, gops, ofPeak, name].join('\t'));
  };
  row('in', 'input layout', total[0]);
  spec.ops.forEach((op, i) => {
    const layerMacs = op.op === 'conv' || op.op === 'gemm' ? macs.get(op.name ?? '') : undefined;
    row(String(i), describe(op), total[1 + i], layerMacs, op.name ?? '');
  });
  row('out', 'logits', total[spec.ops.length + 1]);
  const kinds = new Map<string, number>();
  spec.ops.forEach((op, i) => kinds.set(op.op, (kinds.get(op.op) ?? 0) + total[1 + i]));
  console.log(`by kind: ${[...kinds].sort((a, b) => b[1] - a[1]).map(([k, s]) => `${k} ${((100 * s) / sum).toFixed(1)}%`).join(', ')}`);
}
