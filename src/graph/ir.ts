/**
 * arq's graph IR: the network after ONNX import, constant folding and batch-norm folding. Every value is a
 * per-image tensor (the batch dimension is implicit) of shape [C, H, W]; a flat vector is [F, 1, 1]. Nodes are in
 * topological order and each produces exactly one value.
 */

export type Shape = readonly [number, number, number];

/** y = clamp(x, min, max): the activation functions arq supports are clamps (ReLU, ReLU6, Clip). */
export interface ClampRange {
  readonly min: number;
  readonly max: number;
}

interface NodeBase {
  /** The ONNX node name (or a generated one when the file has none); policies refer to layers by it. */
  readonly name: string;
  readonly inputs: readonly string[];
  readonly output: string;
}

/** Conv with weight [out][in/group][kh][kw] (after batch-norm folding) and optional bias. Dilation 1. */
export interface ConvNode extends NodeBase {
  readonly op: 'conv';
  readonly weight: Float32Array;
  readonly bias: Float32Array | undefined;
  readonly outChannels: number;
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  /** [top, left, bottom, right] */
  readonly pads: readonly [number, number, number, number];
  readonly group: number;
}

/** Fully connected: weight [out][in], optional bias. Gemm and MatMul(+Add) import as this. */
export interface GemmNode extends NodeBase {
  readonly op: 'gemm';
  readonly weight: Float32Array;
  readonly bias: Float32Array | undefined;
  readonly outFeatures: number;
}

export interface ClampNode extends NodeBase {
  readonly op: 'clamp';
  readonly range: ClampRange;
}

export interface AddNode extends NodeBase {
  readonly op: 'add';
}

export interface PoolNode extends NodeBase {
  readonly op: 'maxpool' | 'avgpool';
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
  /** AveragePool only: whether padded positions count in the divisor. */
  readonly countIncludePad: boolean;
}

export interface GlobalAvgPoolNode extends NodeBase {
  readonly op: 'globalavgpool';
}

export interface PadNode extends NodeBase {
  readonly op: 'pad';
  readonly pads: readonly [number, number, number, number];
  readonly value: number;
}

/** x op k (or k op x) with a constant k of one value or one per channel: input normalisation. */
export interface ElementwiseNode extends NodeBase {
  readonly op: 'elementwise';
  readonly operation: 'add' | 'sub' | 'mul' | 'div';
  readonly constant: Float32Array;
  readonly constantFirst: boolean;
}

/** Channel c of the output is channel c mod C of the input: a grey image tiled into RGB. */
export interface RepeatNode extends NodeBase {
  readonly op: 'repeat';
  readonly factor: number;
}

/** [C, H, W] -> [C*H*W, 1, 1] in ONNX (NCHW) element order. */
export interface FlattenNode extends NodeBase {
  readonly op: 'flatten';
}

export type Node =
  | ConvNode
  | GemmNode
  | ClampNode
  | AddNode
  | PoolNode
  | GlobalAvgPoolNode
  | PadNode
  | ElementwiseNode
  | RepeatNode
  | FlattenNode;

export type OpName = Node['op'];

export interface Graph {
  /** The network input; `rank` is its ONNX rank: 4 for [N, C, H, W] images, 2 for [N, F] vectors. */
  readonly input: { readonly name: string; readonly shape: Shape; readonly rank: 2 | 4 };
  readonly output: string;
  readonly nodes: readonly Node[];
  /** Per-image shape of every value, the input included. */
  readonly shapes: ReadonlyMap<string, Shape>;
}

/** Conv and Gemm: the layers a quantization policy assigns bit widths to. */
export type QuantizableNode = ConvNode | GemmNode;

export function isQuantizable(node: Node): node is QuantizableNode {
  return node.op === 'conv' || node.op === 'gemm';
}

export function shapeSize(shape: Shape): number {
  return shape[0] * shape[1] * shape[2];
}
