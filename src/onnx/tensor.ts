/**
 * Constant tensors met while importing: initializers, Constant nodes and folded shape plumbing. Floats stay
 * float32; integers and booleans are held as float64 (exact for every shape value). During import a value may
 * contain the batch dimension, which is unknown until run time: it is carried as NaN, so any arithmetic that
 * depends on it yields NaN and is caught where a concrete value is needed.
 */
import { ArqError } from '../util/errors.js';
import { DataType, copyBytes, toNumber, type TensorProto } from './proto.js';

export type ConstKind = 'float' | 'int' | 'bool';

export interface ConstTensor {
  readonly kind: ConstKind;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array;
}

export const BATCH = Number.NaN;

/**
 * The most elements one constant tensor may hold (256 MiB as float32): above the weights of any network arq's
 * engine runs, and low enough that a hostile shape (a huge dim, a ConstantOfShape or Range of 10^12) is refused
 * before anything is allocated for it.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 26;

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, dim) => product * dim, 1);
}

/**
 * The element count of a tensor of `dims` that is about to be allocated: every dim a non-negative integer and the
 * product within MAX_TENSOR_ELEMENTS. `where` names the tensor or node in errors.
 */
export function checkedElementCount(dims: readonly number[], where: string): number {
  if (dims.some((dim) => !Number.isInteger(dim) || dim < 0)) throw new ArqError(`${where}: invalid dims [${dims.join(', ')}]`);
  const count = elementCount(dims);
  if (count > MAX_TENSOR_ELEMENTS) {
    throw new ArqError(`${where}: dims [${dims.join(', ')}] hold ${count} elements, more than arq's limit of ${MAX_TENSOR_ELEMENTS}`);
  }
  return count;
}

/** The index of the first NaN or infinite value, or -1. */
function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** Throws unless every value is finite; `what` names the node and the tensor, e.g. "node 'c' (Conv): weight 'w'". */
export function requireFinite(values: ArrayLike<number>, what: string): void {
  const at = firstNonFinite(values);
  if (at >= 0) throw new ArqError(`${what} holds ${values[at]} at index ${at}; only finite values are supported`);
}

export function makeConst(kind: ConstKind, dims: readonly number[], values: ArrayLike<number>): ConstTensor {
  const data = kind === 'float' ? Float32Array.from(values) : Float64Array.from(values);
  if (data.length !== elementCount(dims)) throw new Error(`internal: ${data.length} values for dims [${dims.join(', ')}]`);
  return { kind, dims: [...dims], data };
}

function kindOf(dataType: number, where: string): ConstKind {
  switch (dataType) {
    case DataType.FLOAT:
    case DataType.DOUBLE:
    case DataType.FLOAT16:
      return 'float';
    case DataType.INT64:
    case DataType.INT32:
    case DataType.INT16:
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.UINT16:
    case DataType.UINT32:
    case DataType.UINT64:
      return 'int';
    case DataType.BOOL:
      return 'bool';
    default:
      throw new ArqError(`${where}: unsupported tensor data type ${dataType}`);
  }
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function decodeRaw(dataType: number, bytes: ArrayBuffer, count: number, where: string): ArrayLike<number> {
  const view = new DataView(bytes);
  const size: Record<number, number> = {
    [DataType.FLOAT]: 4, [DataType.DOUBLE]: 8, [DataType.FLOAT16]: 2, [DataType.INT64]: 8, [DataType.UINT64]: 8,
    [DataType.INT32]: 4, [DataType.UINT32]: 4, [DataType.INT16]: 2, [DataType.UINT16]: 2, [DataType.INT8]: 1,
    [DataType.UINT8]: 1, [DataType.BOOL]: 1,
  };
  const width = size[dataType];
  if (width === undefined) throw new ArqError(`${where}: unsupported tensor data type ${dataType}`);
  if (bytes.byteLength !== count * width) {
    throw new ArqError(`${where}: raw data has ${bytes.byteLength} bytes, expected ${count * width} for ${count} elements`);
  }
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * width;
    switch (dataType) {
      case DataType.FLOAT: out[i] = view.getFloat32(at, true); break;
      case DataType.DOUBLE: out[i] = view.getFloat64(at, true); break;
      case DataType.FLOAT16: out[i] = halfToFloat(view.getUint16(at, true)); break;
      case DataType.INT64: out[i] = Number(view.getBigInt64(at, true)); break;
      case DataType.UINT64: out[i] = Number(view.getBigUint64(at, true)); break;
      case DataType.INT32: out[i] = view.getInt32(at, true); break;
      case DataType.UINT32: out[i] = view.getUint32(at, true); break;
      case DataType.INT16: out[i] = view.getInt16(at, true); break;
      case DataType.UINT16: out[i] = view.getUint16(at, true); break;
      case DataType.INT8: out[i] = view.getInt8(at); break;
      default: out[i] = view.getUint8(at); break;
    }
  }
  return out;
}

/** Decodes an ONNX TensorProto (raw or typed fields). `where` names the tensor or node in errors. */
export function fromTensorProto(tensor: TensorProto, where: string): ConstTensor {
  if (tensor.dataLocation === 1 || (tensor.externalData?.length ?? 0) > 0) {
    throw new ArqError(`${where}: tensors stored in external data files are not supported; save the model as one file`);
  }
  const dims = (tensor.dims ?? []).map(toNumber);
  const count = checkedElementCount(dims, where);
  const dataType = tensor.dataType ?? 0;
  const kind = kindOf(dataType, where);
  let values: ArrayLike<number>;
  if (tensor.rawData && tensor.rawData.byteLength > 0) {
    values = decodeRaw(dataType, copyBytes(tensor.rawData), count, where);
  } else if (dataType === DataType.FLOAT) {
    values = tensor.floatData ?? [];
  } else if (dataType === DataType.DOUBLE) {
    values = tensor.doubleData ?? [];
  } else if (dataType === DataType.INT64) {
    values = (tensor.int64Data ?? []).map(toNumber);
  } else if (dataType === DataType.UINT64) {
    values = (tensor.uint64Data ?? []).map(toNumber);
  } else if (dataType === DataType.FLOAT16) {
    values = (tensor.int32Data ?? []).map(halfToFloat);
  } else {
    values = tensor.int32Data ?? [];
  }
  if (values.length !== count) {
    throw new ArqError(`${where}: has ${values.length} values, expected ${count} for dims [${dims.join(', ')}]`);
  }
  return makeConst(kind, dims, values);
}

/** The values as plain numbers (shape plumbing). */
export function toArray(tensor: ConstTensor): number[] {
  return Array.from(tensor.data);
}
