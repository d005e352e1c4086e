/**
 * Per-layer throughput in one process, same batch and thread count for every engine: each quantizable layer
 * (Conv/Gemm, in graph order, with its fused clamp) runs alone as a one-layer model under ONNX Runtime fp32, ONNX
 * Runtime on arq's W8A8 QDQ export of that layer (which it fuses into QLinearConv/QGemm: its int8 path), and arq's
 * integer engine at each policy. Prints, per network, images/second per layer, ratios arq/ORT, and each layer's
 * share of the whole network's time (the whole networks are timed the same way, as in bench/network.ts).
 *
 *   npm run bench -- layers [--model test/fixtures/resnet20.onnx,test/fixtures/mobilenetv2.onnx] [--threads 2]
 *     [--batch 256] [--bits w8a8,w4a8,w4a4,w2a8] [--repeats 5] [--min-ms 150]
 *
 * Isolation: a one-layer model takes float NCHW input and returns float NCHW output, so every engine pays two
 * boundary passes that a layer inside a network does not: arq quantizes the float input onto the layer's input grid
 * and dequantizes its 8-bit output codes (NHWC) to float NCHW; ONNX Runtime's QDQ model has the same
 * QuantizeLinear/DequantizeLinear at its ends (plus any layout transposes it inserts); ONNX Runtime fp32 pays
 * neither. Inside a network arq reads and writes 8-bit NHWC codes directly, so these figures slightly handicap arq
 * (most for small layers: 1x1 and depthwise convolutions). The layer that writes the network's logits keeps float
 * output, as in the network. Grids come from one calibration of the whole network (sliced per layer), so every layer
 * has its real input/output grids; the benchmark inputs are seeded uniform [0,1) values (speed does not depend on
 * them). Residual Adds, pools, Flatten and the input normalisation are not layers and are not timed per layer: they
 * are part of the gap between the sum of the layer shares and 100%.
 *
 *   npm run bench -- layers --lookup [--model ...] [--bits w2a2,w4a2,w4a4] [--policy P.json[,Q.json]]
 *     [--isa avx512vnni,avx2] [--threads 2] [--batch 256] [--seconds 3]
 *
 * --lookup: per policy (uniform --bits and/or policy files of the model) and ISA level the CPU has (avx2 forced with
 * setIsaCap, as ARQ_ISA does), each Conv/Gemm on the table-lookup GEMM (native/kernels/qu8-qs8-lutgemm) against the
 * int8 path on the same shape, in G multiply-adds per second and the ratio: (1) the two kernels alone on the layer's
 * GEMM (M = the rows of the plan's chunk of 8 images, N output channels, K depth; one thread; the lookup kernel on
 * prepacked index bytes, and with the packing in every call as the plan runs it, against qgemm), and (2) the layer
 * inside the whole network: the plan with every layer lookup can run on it ('always') against the plan on the int8
 * path ('never'), profiled in alternating rounds (the op's least thread-time in a round: codes in and out, no
 * boundary passes, and the least is what a preempted round on a shared machine does not inflate).
 * "lookup" says whether the plan runs the layer on lookup when forced (its widths and shape allow it: wbits 2..4,
 * abits 1..4, not the float-input or logits layer) and under the measured rule (native/engine/lut_dispatch.cc), as
 * the native layout decides it for a plan where only that layer has low widths.
 */
import { parseArgs } from 'node:util';
import { loadModel, type LoadedModel } from '../src/onnx/model.js';
import { createClassifier } from '../src/engine/classifier.js';
import { consumerCounts, lowerGraph } from '../src/graph/lower.js';
import { inferShapes } from '../src/graph/shapes.js';
import { isQuantizable, shapeSize, type ClampNode, type Graph, type Node, type QuantizableNode, type Shape } from '../src/graph/ir.js';
import { layerCosts } from '../src/graph/cost.js';
import { HISTOGRAM_BINS } from '../src/engine/int-plan.js';
import type { Calibration } from '../src/quant/calibrate.js';
import { activationGrid } from '../src/engine/grid.js';
import { IntPlan, intPlanSpec, type BitWidths } from '../src/engine/int-plan.js';
import { loadPolicy, parseBits, uniformPolicy } from '../src/quant/policy.js';
import { exportQdq } from '../src/onnx/qdq.js';
import { OnnxBuilder } from '../src/onnx/write.js';
import { OrtModel } from '../src/ort/session.js';
import { addon, cpuInfo, qu8Kernels, setIsaCap, setLutDispatch, supportedIsas, withStack, type IntPlanSpec, type IsaName } from '../src/native.js';
import { Random } from '../src/util/random.js';
import { benchCalibration } from './support/inputs.js';
import { interleavedRates, type Engine } from '../src/util/timing.js';
import { alternatingProfiles, lutAndInt8 } from './support/lookup.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'test/fixtures/resnet20.onnx,test/fixtures/mobilenetv2.onnx' },
    batch: { type: 'string', default: '256' },
    threads: { type: 'string', default: '2' },
    bits: { type: 'string' },
    repeats: { type: 'string', default: '5' },
    'min-ms': { type: 'string', default: '150' },
    lookup: { type: 'boolean', default: false },
    policy: { type: 'string' },
    isa: { type: 'string', default: 'avx512vnni,avx2' },
    seconds: { type: 'string', default: '3' },
  },
});

const batch = Number(values.batch);
const threads = Number(values.threads);
const repeats = Number(values.repeats);
const minMs = Number(values['min-ms']);
const bitsList = values.bits ?? (values.lookup ? (values.policy === undefined ? 'w2a2,w4a2,w4a4' : '') : 'w8a8,w4a8,w4a4,w2a8');
const policies = bitsList.split(',').filter((text) => text !== '').map((text) => ({ label: `W${parseBits(text).wbits}A${parseBits(text).abits}`, ...parseBits(text) }));
const w8a8 = policies.findIndex((p) => p.wbits === 8 && p.abits === 8);
const reference = w8a8 >= 0 ? w8a8 : 0;

const rates = (engines: readonly Engine[], images: Float32Array) => interleavedRates(engines, images, batch, repeats, minMs);

function uniformImages(count: number, seed: number): Float32Array {
  const random = Random.fromSeed(seed);
  return Float32Array.from({ length: count }, () => random.uniform());
}

/** The clamp lowerGraph fuses into `node`: the only consumer of its output, if that is a clamp. */
function fusedClamp(graph: Graph, node: QuantizableNode, consumers: Map<string, number>): ClampNode | undefined {
  if (consumers.get(node.output) !== 1) return undefined;
  return graph.nodes.find((n): n is ClampNode => n.op === 'clamp' && n.inputs[0] === node.output);
}

interface LayerModel {
  readonly graph: Graph;
  readonly calibration: Calibration;
  /** Whether the layer writes the network's output (then it keeps float output, as in the network). */
  readonly isOutput: boolean;
  /** The layer's 8-bit output grid in the network (null for the output layer). */
  readonly outputGrid: { scale: number; zero: number } | null;
}

/** `node` (+ its fused clamp) as a one-layer graph, with its slice of the whole network's calibration. */
function layerModel(model: LoadedModel, whole: Calibration, node: QuantizableNode, consumers: Map<string, number>, networkOutput: number): LayerModel {
  const graph = model.graph;
  const clamp = fusedClamp(graph, node, consumers);
  const inputShape: Shape = graph.shapes.get(node.inputs[0])!;
  const nodes: Node[] = [{ ...node, inputs: ['input'], output: 'y' }];
  if (clamp) nodes.push({ ...clamp, inputs: ['y'], output: 'z' });
  const input: Graph['input'] = { name: 'input', shape: inputShape, rank: node.op === 'gemm' ? 2 : 4 };
  const one: Graph = { input, output: clamp ? 'z' : 'y', nodes, shapes: inferShapes(input, nodes) };

  const vin = whole.valueOf.get(node.inputs[0])!;
  const vout = whole.valueOf.get(clamp ? clamp.output : node.output)!;
  const ranges = Float32Array.of(whole.ranges[2 * vin], whole.ranges[2 * vin + 1], whole.ranges[2 * vout], whole.ranges[2 * vout + 1]);
  const histograms = new Float64Array(2 * HISTOGRAM_BINS);
  histograms.set(whole.histograms.subarray(vin * HISTOGRAM_BINS, (vin + 1) * HISTOGRAM_BINS), 0);
  histograms.set(whole.histograms.subarray(vout * HISTOGRAM_BINS, (vout + 1) * HISTOGRAM_BINS), HISTOGRAM_BINS);
  const calibration: Calibration = { valueOf: lowerGraph(one).valueOf, ranges, histograms, settings: whole.settings };
  const isOutput = vout === networkOutput;
  const grid = isOutput ? null : activationGrid(ranges[2], ranges[3], histograms.subarray(HISTOGRAM_BINS), 8);
  return { graph: one, calibration, isOutput, outputGrid: grid && { scale: grid.scale, zero: grid.zero } };
}

/** The integer plan of the one-layer graph; an inner layer writes 8-bit codes on its network output grid. */
function layerSpec(layer: LayerModel, sha256: string, wbits: number, abits: number): IntPlanSpec {
  const spec = intPlanSpec(layer.graph, uniformPolicy(layer.graph, sha256, wbits, abits), layer.calibration);
  const grids = [...spec.grids];
  if (layer.outputGrid) grids[spec.output] = layer.outputGrid;
  return { ...spec, grids };
}

/** The one-layer graph as a float ONNX model (Conv/Gemm, then Relu/Clip) for ONNX Runtime fp32. */
function floatOnnx(graph: Graph): Uint8Array {
  const b = new OnnxBuilder(13);
  const [layer, clamp] = graph.nodes as [QuantizableNode, ClampNode | undefined];
  const x = graph.input.name;
  const inShape = graph.input.shape;
  const outShape = graph.shapes.get(graph.output)!;
  const y = clamp ? 'y' : graph.output;
  if (layer.op === 'conv') {
    const weight = b.initializer('weight', { dims: [layer.outChannels, inShape[0] / layer.group, ...layer.kernel], dataType: 'float', values: layer.weight });
    const inputs = layer.bias ? [x, weight, b.initializer('bias', { dims: [layer.outChannels], dataType: 'float', values: layer.bias })] : [x, weight];
    b.node('Conv', inputs, y, { kernel_shape: [...layer.kernel], strides: [...layer.strides], pads: [...layer.pads], dilations: [1, 1], group: layer.group }, layer.name);
  } else {
    const weight = b.initializer('weight', { dims: [layer.outFeatures, inShape[0]], dataType: 'float', values: layer.weight });
    const inputs = layer.bias ? [x, weight, b.initializer('bias', { dims: [layer.outFeatures], dataType: 'float', values: layer.bias })] : [x, weight];
    b.node('Gemm', inputs, y, { transB: 1 }, layer.name);
  }
  if (clamp) {
    const { min, max } = clamp.range;
    if (min === 0 && max === Number.POSITIVE_INFINITY) {
      b.node('Relu', [y], graph.output, {}, clamp.name);
    } else {
      const bound = (value: number, name: string) => (Number.isFinite(value) ? b.initializer(name, { dims: [], dataType: 'float', values: [value] }) : '');
      b.node('Clip', [y, bound(min, 'clip_min'), bound(max, 'clip_max')], graph.output, {}, clamp.name);
    }
  }
  const rank4 = graph.input.rank === 4;
  b.input(x, rank4 ? ['N', ...inShape] : ['N', inShape[0]]);
  b.output(graph.output, rank4 ? ['N', ...outShape] : ['N', outShape[0]]);
  return b.encode('arq-bench');
}

function intEngine(label: string, spec: IntPlanSpec): Engine {
  const native = new (addon().IntPlan)(spec);
  return { label, run: (x, n) => withStack(() => native.run(x, n, threads)) };
}

async function ortEngine(label: string, bytes: Uint8Array, graph: Graph): Promise<Engine> {
  const session = await OrtModel.load(bytes, graph.input.shape, graph.input.rank, { threads });
  return { label, run: (x, n) => session.run(x, n), close: () => session.release() };
}

/** Largest |a - b| relative to the largest |b|: a check that the engines compute the same layer. */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

const fmt = (x: number, digits = 0) => x.toFixed(digits);
const shapeText = (s: readonly number[]) => (s[1] === 1 && s[2] === 1 ? `${s[0]}` : s.join('x'));

const cpu = cpuInfo();

/** Rows of the integer plan's chunk: it runs 8 images at a time through the network (native/engine/int_plan.cc). */
const CHUNK_IMAGES = 8;

/**
 * Whether the plan at the active level runs `layer` on the lookup GEMM under `mode`: the native layout's decision,
 * read from a plan where only this layer has its policy's widths (every other layer W8A8, which no lookup takes).
 */
function takesLookup(model: LoadedModel, calibration: Calibration, policy: BitWidths, layer: string, mode: 'always' | 'measured'): boolean {
  const widths = policy.layers.find((l) => l.name === layer)!;
  const probe = { layers: uniformPolicy(model.graph, model.sha256, 8, 8).layers.map((l) => (l.name === layer ? widths : l)) };
  setLutDispatch(mode);
  const kernels = IntPlan.build(model.graph, probe, calibration).kernels;
  setLutDispatch('measured');
  return kernels.includes('lutgemm');
}

/** --lookup: per policy, ISA level and Conv/Gemm layer, the lookup GEMM against the int8 path (see the header). */
async function lookupLayers(): Promise<void> {
  const isas = values.isa.split(',').map((s) => s.trim() as IsaName).filter((isa) => {
    if (isa !== 'avx2' && isa !== 'avx512vnni') throw new Error(`--isa: avx2 or avx512vnni, got '${isa}'`);
    if (supportedIsas().includes(isa)) return true;
    console.log(`${isa}: not supported by this CPU, skipped`);
    return false;
  });
  const seconds = Number(values.seconds);
  console.log(`CPU ${cpu.detected}; kernels alone: 1 thread, best of alternating ~2 ms runs for ~0.5 s per layer; in the network: batch ${batch}, ${threads} thread(s), plans profiled in alternating rounds for ${seconds} s, each op's least thread-time in a round`);
  console.log('G MAC/s = 10^9 multiply-adds per second (per thread in the network); ratios above 1: lookup is faster');
  for (const path of values.model.split(',')) {
    const model = await loadModel(path);
    const graph = model.graph;
    const images = uniformImages(batch * shapeSize(graph.input.shape), 1);
    const calibration = await benchCalibration(graph, images, { count: Math.min(batch, 128), threads });
    const named: { label: string; policy: BitWidths }[] = policies.map((p) => ({ label: p.label, policy: uniformPolicy(graph, model.sha256, p.wbits, p.abits) }));
    for (const file of values.policy?.split(',') ?? []) named.push({ label: file, policy: await loadPolicy(file, graph, model.sha256) });
    const costs = new Map(layerCosts(graph).map((c) => [c.name, c]));
    const nodes = new Map(graph.nodes.filter(isQuantizable).map((n) => [n.name, n]));
    for (const { label, policy } of named) {
      for (const isa of isas) {
        setIsaCap(isa);
        const spec = intPlanSpec(graph, policy, calibration);
        const plans = (['never', 'always'] as const).map((mode) => {
          setLutDispatch(mode);
          return IntPlan.build(graph, policy, calibration);
        });
        setLutDispatch('measured');
        const { best, batches } = await alternatingProfiles(plans, images, batch, threads, seconds, spec.ops.length + 2);
        const perImage = (s: number) => (1e6 * s) / batch;
        const gmacs = (macs: number, s: number) => (macs * batch) / s / 1e9;
        console.log(`\n${path}, policy ${label}, ${isa} (${qu8Kernels().names(isa).gemm} / ${qu8Kernels().names(isa).lutgemm}); ${batches} rounds`);
        console.log(['#', 'layer', 'W/A', 'M x N x K', 'lookup forced/rule', 'alone lut / +pack / int8 G MAC/s', '+pack/int8',
          'in net int8 / lookup us/img', 'in net int8 / lookup G MAC/s', 'int8/lookup', 'name'].join('\t'));
        let [int8Total, lookupTotal, ruleTotal] = [0, 0, 0];
        spec.ops.forEach((op, i) => {
          if (op.op !== 'conv' && op.op !== 'gemm') return;
          const name = op.name ?? '';
          const node = nodes.get(name)!;
          const cost = costs.get(name)!;
          const widths = policy.layers.find((l) => l.name === name)!;
          const [int8Time, lookupTime] = [best[0][1 + i], best[1][1 + i]];
          const forced = takesLookup(model, calibration, policy, name, 'always');
          const rule = forced && takesLookup(model, calibration, policy, name, 'measured');
          int8Total += int8Time;
          lookupTotal += forced ? lookupTime : int8Time;
          ruleTotal += rule ? lookupTime : int8Time;
          const [m, n, k] = node.op === 'conv'
            ? [CHUNK_IMAGES * cost.outputShape[1] * cost.outputShape[2], node.outChannels / node.group, node.weight.length / node.outChannels]
            : [CHUNK_IMAGES, node.outFeatures, node.weight.length / node.outFeatures];
          const kind = node.op === 'conv' ? `conv${node.kernel[0]}x${node.kernel[1]}${node.group > 1 ? ` g${node.group}` : ''}` : 'gemm';
          const alone = forced ? lutAndInt8(isa, m, n, k, widths.wbits, widths.abits, 0.5, 5) : undefined;
          console.log([i, kind, `W${widths.wbits}A${widths.abits}`, `${m}x${n}x${k}`, `${forced ? 'yes' : 'no'}/${rule ? 'yes' : 'no'}`,
            alone ? `${fmt(alone.lut)} / ${fmt(alone.lutPack)} / ${fmt(alone.int8)}` : '-', alone ? fmt(alone.lutPack / alone.int8, 2) : '-',
            forced ? `${fmt(perImage(int8Time), 2)} / ${fmt(perImage(lookupTime), 2)}` : fmt(perImage(int8Time), 2),
            forced ? `${fmt(gmacs(cost.macs, int8Time), 1)} / ${fmt(gmacs(cost.macs, lookupTime), 1)}` : fmt(gmacs(cost.macs, int8Time), 1),
            forced ? fmt(int8Time / lookupTime, 2) : '-', name].join('\t'));
        });
        console.log(`conv/gemm thread-time per image: int8 path ${fmt(perImage(int8Total), 1)} us, every layer lookup can run on it ${fmt(perImage(lookupTotal), 1)} us (int8/lookup ${fmt(int8Total / lookupTotal, 2)}), the measured rule's choice ${fmt(perImage(ruleTotal), 1)} us (${fmt(int8Total / ruleTotal, 2)})`);
      }
    }
  }
  setIsaCap(cpu.detected);
}

if (values.lookup) {
  await lookupLayers();
  process.exit(0);
}
console.log(`batch ${batch}, ${threads} thread(s), CPU ${cpu.detected} (${cpu.threads} hardware threads), median of ${repeats} interleaved rounds of >= ${minMs} ms per engine`);
console.log('each layer runs alone: float NCHW input quantized onto its input grid and output codes dequantized to float');
console.log('(arq and ORT int8 alike; ORT fp32 has no such passes), which inside a network arq does not pay: small');
console.log('layers are handicapped most. "ort int8" = ONNX Runtime on arq\'s W8A8 QDQ export of the layer.');

for (const path of values.model.split(',')) {
  const model = await loadModel(path);
  const graph = model.graph;
  const shape = graph.input.shape;

  // One calibration of the whole network (as bench/network.ts), sliced per layer below.
  const images = uniformImages(batch * shapeSize(shape), 1);
  const whole = await benchCalibration(graph, images, { count: Math.min(batch, 128), threads });

  // Whole network, timed the same way.
  const wholeEngines: Engine[] = [];
  const ort = await createClassifier(model, 'ort', { threads });
  wholeEngines.push({ label: 'ort fp32', run: (x, n) => ort.logits(x, n), close: () => ort.close() });
  const qdq = exportQdq(graph, intPlanSpec(graph, uniformPolicy(graph, model.sha256, 8, 8), whole));
  wholeEngines.push(await ortEngine('ort int8', qdq, graph));
  for (const p of policies) {
    const int = await createClassifier(model, 'int', { threads, quantization: { policy: uniformPolicy(graph, model.sha256, p.wbits, p.abits), calibration: whole } });
    wholeEngines.push({ label: `arq ${p.label}`, run: (x, n) => int.logits(x, n) });
  }
  const wholeRates = await rates(wholeEngines, images);
  for (const engine of wholeEngines) await engine.close?.();

  const labels = wholeEngines.map((e) => e.label);
  const consumers = consumerCounts(graph);
  const networkOutput = lowerGraph(graph).spec.output;
  const costs = new Map(layerCosts(graph).map((c) => [c.name, c]));
  const rows: { index: number; name: string; shape: string; macs: number; rates: number[]; error: number }[] = [];
  const layers = graph.nodes.filter(isQuantizable);
  for (const [index, node] of layers.entries()) {
    const layer = layerModel(model, whole, node, consumers, networkOutput);
    const cost = costs.get(node.name)!;
    const engines: Engine[] = [await ortEngine('ort fp32', floatOnnx(layer.graph), layer.graph)];
    engines.push(await ortEngine('ort int8', exportQdq(layer.graph, layerSpec(layer, model.sha256, 8, 8)), layer.graph));
    for (const p of policies) engines.push(intEngine(`arq ${p.label}`, layerSpec(layer, model.sha256, p.wbits, p.abits)));
    const input = uniformImages(batch * shapeSize(layer.graph.input.shape), 2 + index);
    // Check: arq at the reference policy computes the same layer as ONNX Runtime fp32 (quantization error only).
    const error = relativeError(await engines[2 + reference].run(input, batch), await engines[0].run(input, batch));
    const layerRates = await rates(engines, input);
    for (const engine of engines) await engine.close?.();
    const kind = node.op === 'conv' ? `conv${node.kernel[0]}x${node.kernel[1]}${node.group > 1 ? ` g${node.group}` : ''}${node.strides[0] > 1 ? ` s${node.strides[0]}` : ''}` : 'gemm';
    rows.push({ index, name: node.name, shape: `${kind} ${shapeText(cost.inputShape)}->${shapeText(cost.outputShape)}`, macs: cost.macs, rates: layerRates, error });
    process.stderr.write(`\r${path}: layer ${index + 1}/${layers.length}`);
  }
  process.stderr.write('\n');

  const ref = policies[reference].label;
  console.log(`\n${path} (${layers.length} layers): images/second per layer; whole network on the last line`);
  console.log(['#', 'layer', 'MMAC/img', ...labels, `arq ${ref} GOPS`, `${ref} err vs fp32`, 'name'].join('\t'));
  for (const row of rows) {
    const gops = (2 * row.macs * row.rates[2 + reference]) / 1e9;
    console.log([row.index, row.shape, fmt(row.macs / 1e6, 3), ...row.rates.map((r) => fmt(r)), fmt(gops, 1), row.error.toExponential(1), row.name].join('\t'));
  }
  const totalMacs = rows.reduce((sum, row) => sum + row.macs, 0);
  console.log(['all', 'whole network', fmt(totalMacs / 1e6, 3), ...wholeRates.map((r) => fmt(r)), fmt((2 * totalMacs * wholeRates[2 + reference]) / 1e9, 1), '', ''].join('\t'));

  console.log(`\n${path}: ratios arq / ONNX Runtime, and share of the whole network's time (layer time / network time, same engine)`);
  const ratioLabels = [...policies.map((p) => `${p.label}/fp32`), ...policies.map((p) => `${p.label}/int8`)];
  const shareLabels = ['ort fp32', 'ort int8', `arq ${ref}`].map((l) => `share ${l}`);
  console.log(['#', 'layer', ...ratioLabels, ...shareLabels].join('\t'));
  const shareOf = (row: { rates: number[] }, e: number) => wholeRates[e] / row.rates[e];
  const shareEngines = [0, 1, 2 + reference];
  for (const row of rows) {
    const ratios = [...policies.map((_, p) => row.rates[2 + p] / row.rates[0]), ...policies.map((_, p) => row.rates[2 + p] / row.rates[1])];
    console.log([row.index, row.shape, ...ratios.map((r) => fmt(r, 2)), ...shareEngines.map((e) => `${fmt(100 * shareOf(row, e), 1)}%`)].join('\t'));
  }
  const wholeRatios = [...policies.map((_, p) => wholeRates[2 + p] / wholeRates[0]), ...policies.map((_, p) => wholeRates[2 + p] / wholeRates[1])];
  const shareSums = shareEngines.map((e) => rows.reduce((sum, row) => sum + shareOf(row, e), 0));
  console.log(['all', 'whole network / sum of layers', ...wholeRatios.map((r) => fmt(r, 2)), ...shareSums.map((s) => `${fmt(100 * s, 1)}%`)].join('\t'));

  // Summary: range of the reference ratios over layers, weakest layers, low-bit layers slower than W8A8.
  const ratioRange = (den: number) => {
    const r = rows.map((row) => ({ row, ratio: row.rates[2 + reference] / row.rates[den] })).sort((a, b) => a.ratio - b.ratio);
    return `${fmt(r[0].ratio, 2)} (#${r[0].row.index} ${r[0].row.shape}) .. ${fmt(r[r.length - 1].ratio, 2)} (#${r[r.length - 1].row.index} ${r[r.length - 1].row.shape})`;
  };
  console.log(`\n${ref}/ort fp32 over layers: ${ratioRange(0)}`);
  console.log(`${ref}/ort int8 over layers: ${ratioRange(1)}`);
  for (const [p, policy] of policies.entries()) {
    if (p === reference) continue;
    const slower = rows.filter((row) => row.rates[2 + p] < 0.95 * row.rates[2 + reference]);
    console.log(`${policy.label} more than 5% slower than ${ref} on ${slower.length}/${rows.length} layers${slower.length ? `: ${slower.map((row) => `#${row.index} ${fmt(row.rates[2 + p] / row.rates[2 + reference], 2)}`).join(', ')}` : ''}`);
  }
  for (const [k, e] of shareEngines.entries()) {
    if (shareSums[k] > 1.5) console.log(`note: the ${labels[e]} one-layer times add up to ${fmt(shareSums[k], 1)}x its whole-network time: per-call costs outside the layer (session/plan call, and for the quantized engines the float input/output passes) weigh on small layers`);
  }
  const bad = rows.filter((row) => !(row.error < 0.1));
  if (bad.length) console.log(`warning: ${ref} differs from ONNX Runtime fp32 by more than 10% of the output range on layers ${bad.map((row) => `#${row.index}`).join(', ')}`);
}
