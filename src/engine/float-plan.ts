/**
 * Lowers the graph IR to a native fp32 plan: values are numbered (0 = input) and a clamp that is the only consumer
 * of a conv, gemm or add is fused into it.
 */
import type { Graph, Node } from '../graph/ir.js';
import { addon, withStack, type FloatPlanOp, type FloatPlanSpec, type NativeFloatPlan } from '../native.js';
import { NativePlan, planMaxMemory, type PlanOptions } from './native-plan.js';

export function consumerCounts(graph: Graph): Map<string, number> {
  const counts = new Map<string, number>([[graph.output, 1]]);
  for (const node of graph.nodes) for (const input of node.inputs) counts.set(input, (counts.get(input) ?? 0) + 1);
  return counts;
}

/** One IR node as a native plan op (also the trainer's, src/train/native-net.ts). */
export function lowerOp(node: Node, inputs: number[], output: number): FloatPlanOp {
  const base = { inputs, output, name: node.name };
  switch (node.op) {
    case 'conv':
      return { ...base, op: 'conv', weight: node.weight, bias: node.bias ?? null, outChannels: node.outChannels, kernel: [...node.kernel], strides: [...node.strides], pads: [...node.pads], group: node.group };
    case 'gemm':
      return { ...base, op: 'gemm', weight: node.weight, bias: node.bias ?? null, outFeatures: node.outFeatures };
    case 'clamp':
      return { ...base, op: 'clamp', clamp: [node.range.min, node.range.max] };
    case 'add':
    case 'globalavgpool':
    case 'flatten':
      return { ...base, op: node.op };
    case 'maxpool':
      return { ...base, op: 'maxpool', kernel: [...node.kernel], strides: [...node.strides], pads: [...node.pads] };
    case 'avgpool':
      return { ...base, op: 'avgpool', kernel: [...node.kernel], strides: [...node.strides], pads: [...node.pads], countIncludePad: node.countIncludePad };
    case 'pad':
      return { ...base, op: 'pad', pads: [...node.pads], value: node.value };
    case 'elementwise':
      return { ...base, op: 'elementwise', operation: node.operation, constant: node.constant, constantFirst: node.constantFirst };
    case 'repeat':
      return { ...base, op: 'repeat', factor: node.factor };
  }
}

/** The lowered plan and the plan value of every IR value (fused clamps share their producer's value). */
export interface LoweredGraph {
  readonly spec: FloatPlanSpec;
  readonly valueOf: ReadonlyMap<string, number>;
}

export function floatPlanSpec(graph: Graph): FloatPlanSpec {
  return lowerGraph(graph).spec;
}

export function lowerGraph(graph: Graph): LoweredGraph {
  const ids = new Map<string, number>([[graph.input.name, 0]]);
  const consumers = consumerCounts(graph);
  const ops: FloatPlanOp[] = [];
  const fusedInto = new Map<string, FloatPlanOp>(); // IR value -> the op that already computes it
  let values = 1;
  for (const node of graph.nodes) {
    const producer = node.op === 'clamp' ? fusedInto.get(node.inputs[0]) : undefined;
    if (node.op === 'clamp' && producer && !producer.clamp && consumers.get(node.inputs[0]) === 1) {
      producer.clamp = [node.range.min, node.range.max];
      ids.set(node.output, producer.output);
      continue;
    }
    const output = values++;
    ids.set(node.output, output);
    const op = lowerOp(node, node.inputs.map((name) => ids.get(name)!), output);
    if (node.op === 'conv' || node.op === 'gemm' || node.op === 'add') fusedInto.set(node.output, op);
    ops.push(op);
  }
  return { spec: { input: [...graph.input.shape], values, output: ids.get(graph.output)!, ops }, valueOf: ids };
}

/** The graph compiled for the native fp32 executor. */
export class FloatPlan extends NativePlan<NativeFloatPlan> {
  static build(graph: Graph, options: PlanOptions = {}): FloatPlan {
    const Native = addon().FloatPlan;
    return new FloatPlan(new Native({ ...floatPlanSpec(graph), maxMemory: planMaxMemory(options) }));
  }

  /**
   * Estimated bytes of a run of `batch` images on `threads` threads, or with bins > 0 of a histogram pass; throws a
   * RangeError naming the largest item when over the plan's maxMemory. Every call checks this itself; callers use it
   * to fail before earlier, cheaper passes.
   */
  checkMemory(batch: number, threads: number, bins = 0): number {
    return this.native.checkMemory(batch, threads, bins);
  }

  /** [min, max] per plan value over `batch` images (calibration); rejects naming the first value holding NaN or infinity. */
  observeRanges(images: Float32Array, batch: number, threads: number): Promise<Float32Array> {
    return withStack(() => this.native.observeRanges(images, batch, threads));
  }

  /** Histograms of `bins` equal bins over `ranges`, one per plan value (calibration); rejects as observeRanges. */
  observeHistograms(images: Float32Array, batch: number, threads: number, ranges: Float32Array, bins: number): Promise<Float64Array> {
    return withStack(() => this.native.observeHistograms(images, batch, threads, ranges, bins));
  }
}
