/**
 * Lowers the graph IR to the native plans' op list: values are numbered (0 = input) and a clamp that is the only
 * consumer of a conv, gemm or add is fused into it. The fp32 plan runs this list; the integer plan (engine/int-plan.ts),
 * the QDQ export, calibration and QAT all read the same numbering. A calibration keeps the numbering it was recorded
 * under (`valueOf`), and a plan built from its statistics checks it against its own lowering (checkStatistics).
 */
import type { Graph, Node } from './ir.js';
import type { FloatPlanOp, FloatPlanSpec } from '../native.js';

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
