/**
 * Constant folding of the shape plumbing exporters emit (Shape, Gather, Unsqueeze, Concat, Reshape, Slice, ...).
 * foldConstantNode evaluates one node whose inputs are all constants; the importer calls it for every such node,
 * so whole subgraphs collapse into constants before operators are mapped to the IR.
 */
import { ArqError } from '../util/errors.js';
import { Attributes } from './attributes.js';
import { DataType, type NodeProto } from './proto.js';
import { checkedElementCount, elementCount, fromTensorProto, makeConst, toArray, type ConstKind, type ConstTensor } from './tensor.js';

export const FOLDABLE_OPS = new Set([
  'Constant', 'Identity', 'Cast', 'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Reshape', 'Slice', 'Transpose',
  'ConstantOfShape', 'Expand', 'Tile', 'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Equal', 'Where', 'Range', 'Sqrt', 'Flatten',
]);

function strides(dims: readonly number[]): number[] {
  const out = new Array<number>(dims.length).fill(1);
  for (let axis = dims.length - 2; axis >= 0; axis--) out[axis] = out[axis + 1] * dims[axis + 1];
  return out;
}

function normaliseAxis(axis: number, rank: number, label: string): number {
  const result = axis < 0 ? axis + rank : axis;
  if (result < 0 || result >= rank) throw new ArqError(`${label}: axis ${axis} is out of range for rank ${rank}`);
  return result;
}

function broadcastDims(a: readonly number[], b: readonly number[], label: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new ArqError(`${label}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Reads `tensor` broadcast to `dims`: the source index of each destination element. */
function broadcastIndex(source: readonly number[], dims: readonly number[]): (flat: number) => number {
  const rank = dims.length;
  const padded = [...new Array<number>(rank - source.length).fill(1), ...source];
  const sourceStrides = strides(padded);
  const destStrides = strides(dims);
  return (flat) => {
    let index = 0;
    for (let axis = 0; axis < rank; axis++) {
      const coordinate = Math.floor(flat / destStrides[axis]) % dims[axis];
      if (padded[axis] !== 1) index += coordinate * sourceStrides[axis];
    }
    return index;
  };
}

function expandTo(tensor: ConstTensor, dims: readonly number[], label: string): ConstTensor {
  const count = checkedElementCount(dims, label);
  const index = broadcastIndex(tensor.dims, dims);
  const values = new Array<number>(count);
  for (let i = 0; i < count; i++) values[i] = tensor.data[index(i)];
  return makeConst(tensor.kind, dims, values);
}

function binary(a: ConstTensor, b: ConstTensor, label: string, fn: (x: number, y: number) => number, kind?: ConstKind): ConstTensor {
  const dims = broadcastDims(a.dims, b.dims, label);
  const count = checkedElementCount(dims, label);
  const ia = broadcastIndex(a.dims, dims);
  const ib = broadcastIndex(b.dims, dims);
  const values = new Array<number>(count);
  for (let i = 0; i < count; i++) values[i] = fn(a.data[ia(i)], b.data[ib(i)]);
  return makeConst(kind ?? (a.kind === 'float' || b.kind === 'float' ? 'float' : 'int'), dims, values);
}

/** Concrete integers from a constant, e.g. a Reshape target; NaN (the batch size) is allowed only where said. */
export function intsOf(tensor: ConstTensor, label: string, what: string): number[] {
  const values = toArray(tensor);
  if (values.some((v) => !Number.isNaN(v) && !Number.isInteger(v))) throw new ArqError(`${label}: ${what} must be integers`);
  return values;
}

function concreteInts(tensor: ConstTensor, label: string, what: string): number[] {
  const values = intsOf(tensor, label, what);
  if (values.some(Number.isNaN)) throw new ArqError(`${label}: ${what} depends on the batch size, which arq cannot fold`);
  return values;
}

function castKind(to: number, label: string): ConstKind {
  if (to === DataType.FLOAT || to === DataType.DOUBLE || to === DataType.FLOAT16) return 'float';
  if (to === DataType.BOOL) return 'bool';
  if ([DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64].includes(to)) return 'int';
  throw new ArqError(`${label}: Cast to data type ${to} is not supported`);
}

function reshapeTarget(input: readonly number[], target: number[], allowZero: boolean, label: string): number[] {
  const dims = target.map((dim, axis) => (dim === 0 && !allowZero ? input[axis] : dim));
  const known = dims.filter((dim) => dim !== -1).reduce((product, dim) => product * dim, 1);
  const unknown = dims.filter((dim) => dim === -1).length;
  const total = elementCount(input);
  if (unknown > 1) throw new ArqError(`${label}: Reshape target has more than one -1`);
  if (unknown === 1) dims[dims.indexOf(-1)] = total / known;
  if (elementCount(dims) !== total || dims.some((dim) => !Number.isInteger(dim) || dim < 0)) {
    throw new ArqError(`${label}: cannot reshape [${input.join(', ')}] to [${target.join(', ')}]`);
  }
  return dims;
}

/** Resolves Reshape's target (0 copies the input dim, -1 infers one dim) for the importer's dynamic reshapes too. */
export { reshapeTarget };

function slice(data: ConstTensor, starts: number[], ends: number[], axes: number[], steps: number[], label: string): ConstTensor {
  const rank = data.dims.length;
  const begin = new Array<number>(rank).fill(0);
  const step = new Array<number>(rank).fill(1);
  const size = [...data.dims];
  axes.forEach((rawAxis, i) => {
    const axis = normaliseAxis(rawAxis, rank, label);
    const dim = data.dims[axis];
    const s = steps[i] ?? 1;
    if (s === 0) throw new ArqError(`${label}: Slice step must not be 0`);
    const clampIndex = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
    const start = s > 0 ? clampIndex(starts[i], 0, dim) : clampIndex(starts[i], -1, dim - 1);
    const end = s > 0 ? clampIndex(ends[i], 0, dim) : clampIndex(ends[i], -1, dim - 1);
    begin[axis] = start;
    step[axis] = s;
    size[axis] = Math.max(0, Math.ceil((end - start) / s));
  });
  const sourceStrides = strides(data.dims);
  const destStrides = strides(size);
  const count = elementCount(size);
  const values = new Array<number>(count);
  for (let flat = 0; flat < count; flat++) {
    let index = 0;
    for (let axis = 0; axis < rank; axis++) {
      const coordinate = Math.floor(flat / destStrides[axis]) % size[axis];
      index += (begin[axis] + coordinate * step[axis]) * sourceStrides[axis];
    }
    values[flat] = data.data[index];
  }
  return makeConst(data.kind, size, values);
}

/** The value of a Shape node (with opset 15's start/end) over a tensor of `dims`; NaN dims (the batch) pass through. */
function shapeValue(dims: readonly number[], attrs: Attributes): ConstTensor {
  const start = attrs.int('start', 0);
  const end = attrs.int('end', dims.length);
  const from = Math.max(0, start < 0 ? start + dims.length : start);
  const to = Math.min(dims.length, end < 0 ? end + dims.length : end);
  const values = dims.slice(from, Math.max(from, to));
  return makeConst('int', [values.length], values);
}

export function foldShape(node: NodeProto, dims: readonly number[], label: string): ConstTensor {
  return shapeValue(dims, new Attributes(node, label));
}

/**
 * Evaluates `node` on constant inputs (undefined for an omitted optional input). `opset` selects attribute-or-input
 * forms (Unsqueeze/Squeeze axes moved to inputs in opset 13, Slice arguments in opset 10).
 */
export function foldConstantNode(node: NodeProto, inputs: readonly (ConstTensor | undefined)[], opset: number, label: string): ConstTensor {
  const attrs = new Attributes(node, label);
  const input = (index: number): ConstTensor => {
    const tensor = inputs[index];
    if (!tensor) throw new ArqError(`${label}: input ${index} is required`);
    return tensor;
  };
  const axesFrom = (index: number): number[] | undefined =>
    opset >= 13 ? (inputs[index] ? concreteInts(inputs[index], label, 'axes') : undefined) : attrs.has('axes') ? attrs.ints('axes') : undefined;
  switch (node.opType) {
    case 'Constant': {
      if (attrs.has('value')) return fromTensorProto(attrs.tensor('value'), label);
      if (attrs.has('value_float')) return makeConst('float', [], [attrs.float('value_float')]);
      if (attrs.has('value_floats')) { const v = attrs.floats('value_floats'); return makeConst('float', [v.length], v); }
      if (attrs.has('value_int')) return makeConst('int', [], [attrs.int('value_int')]);
      if (attrs.has('value_ints')) { const v = attrs.ints('value_ints'); return makeConst('int', [v.length], v); }
      throw new ArqError(`${label}: Constant without a supported value attribute`);
    }
    case 'Identity':
      return input(0);
    case 'Cast': {
      const kind = castKind(attrs.int('to'), label);
      const source = input(0);
      const values = toArray(source).map((v) => (kind === 'float' ? v : kind === 'bool' ? (v !== 0 ? 1 : 0) : Math.trunc(v)));
      return makeConst(kind, source.dims, values);
    }
    case 'Shape':
      return shapeValue(input(0).dims, attrs);
    case 'Gather': {
      const data = input(0);
      const indices = concreteInts(input(1), label, 'indices');
      const axis = normaliseAxis(attrs.int('axis', 0), data.dims.length, label);
      const dim = data.dims[axis];
      const outer = elementCount(data.dims.slice(0, axis));
      const inner = elementCount(data.dims.slice(axis + 1));
      const dims = [...data.dims.slice(0, axis), ...input(1).dims, ...data.dims.slice(axis + 1)];
      checkedElementCount(dims, label);
      const values: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const raw of indices) {
          const index = raw < 0 ? raw + dim : raw;
          if (index < 0 || index >= dim) throw new ArqError(`${label}: Gather index ${raw} is out of range for a dim of ${dim}`);
          for (let i = 0; i < inner; i++) values.push(data.data[(o * dim + index) * inner + i]);
        }
      }
      return makeConst(data.kind, dims, values);
    }
    case 'Unsqueeze': {
      const data = input(0);
      const axes = axesFrom(1);
      if (!axes) throw new ArqError(`${label}: Unsqueeze needs axes`);
      const rank = data.dims.length + axes.length;
      const normalised = axes.map((axis) => normaliseAxis(axis, rank, label));
      if (new Set(normalised).size !== normalised.length) throw new ArqError(`${label}: axes [${axes.join(', ')}] repeat an axis`);
      const dims: number[] = [];
      let source = 0;
      for (let axis = 0; axis < rank; axis++) dims.push(normalised.includes(axis) ? 1 : data.dims[source++]);
      return makeConst(data.kind, dims, data.data);
    }
    case 'Squeeze': {
      const data = input(0);
      const axes = axesFrom(1)?.map((axis) => normaliseAxis(axis, data.dims.length, label));
      const notOne = axes?.find((axis) => data.dims[axis] !== 1);
      if (notOne !== undefined) throw new ArqError(`${label}: cannot squeeze axis ${notOne} of size ${data.dims[notOne]}`);
      const dims = data.dims.filter((dim, axis) => (axes ? !axes.includes(axis) : dim !== 1));
      return makeConst(data.kind, dims, data.data);
    }
    case 'Concat': {
      const parts = inputs.filter((t): t is ConstTensor => t !== undefined);
      if (parts.length === 0) throw new ArqError(`${label}: Concat needs at least one input`);
      const rank = parts[0].dims.length;
      const axis = normaliseAxis(attrs.int('axis'), rank, label);
      const mismatch = parts.find((part) => part.dims.length !== rank || part.dims.some((dim, i) => i !== axis && dim !== parts[0].dims[i]));
      if (mismatch) throw new ArqError(`${label}: cannot concatenate [${parts[0].dims.join(', ')}] and [${mismatch.dims.join(', ')}] on axis ${axis}`);
      const outer = elementCount(parts[0].dims.slice(0, axis));
      const values: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const part of parts) {
          const chunk = elementCount(part.dims.slice(axis));
          for (let i = 0; i < chunk; i++) values.push(part.data[o * chunk + i]);
        }
      }
      const dims = [...parts[0].dims];
      dims[axis] = parts.reduce((sum, part) => sum + part.dims[axis], 0);
      const kind = parts.some((p) => p.kind === 'float') ? 'float' : parts[0].kind;
      return makeConst(kind, dims, values);
    }
    case 'Reshape': {
      const data = input(0);
      const target = concreteInts(input(1), label, 'shape');
      return makeConst(data.kind, reshapeTarget(data.dims, target, attrs.int('allowzero', 0) === 1, label), data.data);
    }
    case 'Flatten': {
      const data = input(0);
      const axis = attrs.int('axis', 1);
      const split = axis < 0 ? axis + data.dims.length : axis;
      if (split < 0 || split > data.dims.length) throw new ArqError(`${label}: axis ${axis} is out of range for rank ${data.dims.length}`);
      return makeConst(data.kind, [elementCount(data.dims.slice(0, split)), elementCount(data.dims.slice(split))], data.data);
    }
    case 'Slice': {
      const data = input(0);
      if (opset < 10) {
        const starts = attrs.ints('starts');
        return slice(data, starts, attrs.ints('ends'), attrs.ints('axes', starts.map((_, i) => i)), [], label);
      }
      const starts = concreteInts(input(1), label, 'starts');
      const ends = concreteInts(input(2), label, 'ends');
      const axes = inputs[3] ? concreteInts(inputs[3], label, 'axes') : starts.map((_, i) => i);
      const steps = inputs[4] ? concreteInts(inputs[4], label, 'steps') : [];
      return slice(data, starts, ends, axes, steps, label);
    }
    case 'Transpose': {
      const data = input(0);
      const rank = data.dims.length;
      const perm = attrs.ints('perm', [...Array(rank).keys()].reverse());
      if (perm.length !== rank || [...perm].sort((p, q) => p - q).some((axis, i) => axis !== i)) {
        throw new ArqError(`${label}: perm [${perm.join(', ')}] is not a permutation of the ${rank} axes`);
      }
      const dims = perm.map((axis) => data.dims[axis]);
      const sourceStrides = strides(data.dims);
      const destStrides = strides(dims);
      const values = new Array<number>(data.data.length);
      for (let flat = 0; flat < values.length; flat++) {
        let index = 0;
        for (let axis = 0; axis < rank; axis++) index += (Math.floor(flat / destStrides[axis]) % dims[axis]) * sourceStrides[perm[axis]];
        values[flat] = data.data[index];
      }
      return makeConst(data.kind, dims, values);
    }
    case 'ConstantOfShape': {
      const dims = concreteInts(input(0), label, 'shape');
      const value = attrs.has('value') ? fromTensorProto(attrs.tensor('value'), label) : makeConst('float', [1], [0]);
      if (value.data.length !== 1) throw new ArqError(`${label}: the value attribute must hold one element, it holds ${value.data.length}`);
      return makeConst(value.kind, dims, new Array<number>(checkedElementCount(dims, label)).fill(value.data[0]));
    }
    case 'Expand': {
      const data = input(0);
      return expandTo(data, broadcastDims(data.dims, concreteInts(input(1), label, 'shape'), label), label);
    }
    case 'Tile': {
      const data = input(0);
      const repeats = concreteInts(input(1), label, 'repeats');
      if (repeats.length !== data.dims.length) throw new ArqError(`${label}: ${repeats.length} repeats for a rank-${data.dims.length} tensor`);
      const dims = data.dims.map((dim, axis) => dim * repeats[axis]);
      const values = new Array<number>(checkedElementCount(dims, label));
      const sourceStrides = strides(data.dims);
      const destStrides = strides(dims);
      for (let flat = 0; flat < values.length; flat++) {
        let index = 0;
        for (let axis = 0; axis < dims.length; axis++) index += ((Math.floor(flat / destStrides[axis]) % dims[axis]) % data.dims[axis]) * sourceStrides[axis];
        values[flat] = data.data[index];
      }
      return makeConst(data.kind, dims, values);
    }
    case 'Add': return binary(input(0), input(1), label, (x, y) => x + y);
    case 'Sub': return binary(input(0), input(1), label, (x, y) => x - y);
    case 'Mul': return binary(input(0), input(1), label, (x, y) => x * y);
    case 'Div': {
      const integer = input(0).kind !== 'float' && input(1).kind !== 'float';
      if (integer && toArray(input(1)).includes(0)) throw new ArqError(`${label}: integer division by zero`);
      return binary(input(0), input(1), label, (x, y) => (integer ? Math.trunc(x / y) : x / y));
    }
    case 'Neg': {
      const data = input(0);
      return makeConst(data.kind, data.dims, toArray(data).map((v) => -v));
    }
    case 'Sqrt': {
      const data = input(0);
      return makeConst('float', data.dims, toArray(data).map(Math.sqrt));
    }
    case 'Equal': return binary(input(0), input(1), label, (x, y) => (x === y ? 1 : 0), 'bool');
    case 'Where': {
      const condition = input(0);
      const dims = broadcastDims(broadcastDims(condition.dims, input(1).dims, label), input(2).dims, label);
      const [c, x, y] = [expandTo(condition, dims, label), expandTo(input(1), dims, label), expandTo(input(2), dims, label)];
      const values = Array.from(c.data, (flag, i) => (flag ? x.data[i] : y.data[i]));
      return makeConst(x.kind, dims, values);
    }
    case 'Range': {
      const [start, limit, delta] = [0, 1, 2].map((i) => concreteInts(input(i), label, 'range bounds')[0]);
      if (delta === 0) throw new ArqError(`${label}: Range delta must not be 0`);
      const count = checkedElementCount([Math.max(Math.ceil((limit - start) / delta), 0)], label);
      return makeConst(input(0).kind, [count], Array.from({ length: count }, (_, i) => start + i * delta));
    }
    default:
      throw new ArqError(`${label}: cannot fold operator ${node.opType}`);
  }
}

