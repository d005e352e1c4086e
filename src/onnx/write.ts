/**
 * Writing ONNX: a small builder over the ONNX protobuf schema. Tests build models with it, and exports (QDQ,
 * trained networks) use it, so every file arq writes goes through the same code.
 */
import { onnx, AttributeType, DataType } from './proto.js';

export type AttributeValue = number | string | number[] | { floats: number[] } | { float: number } | { tensor: TensorValue };

export interface TensorValue {
  readonly dims: readonly number[];
  /** 'int4'/'uint4' (ONNX 1.16+, opset 21) are packed two per byte, the first element in the low nibble. */
  readonly dataType: 'float' | 'int64' | 'int32' | 'int8' | 'uint8' | 'int4' | 'uint4';
  readonly values: ArrayLike<number>;
}

/** ONNX TensorProto.DataType codes of UINT4 and INT4 (newer than onnx-proto's schema, which encodes them as plain numbers). */
export const DATA_TYPE_UINT4 = 21;
export const DATA_TYPE_INT4 = 22;

const DATA_TYPES = { float: DataType.FLOAT, int64: DataType.INT64, int32: DataType.INT32, int8: DataType.INT8, uint8: DataType.UINT8, int4: DATA_TYPE_INT4, uint4: DATA_TYPE_UINT4 } as const;

/** 4-bit values packed two per byte, element 2i in the low nibble of byte i (the ONNX layout). */
function packNibbles(values: ArrayLike<number>, signed: boolean): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < (signed ? -8 : 0) || v > (signed ? 7 : 15)) throw new Error(`value ${v} does not fit a ${signed ? 'signed' : 'unsigned'} 4-bit tensor`);
    out[i >> 1] |= (v & 0xf) << ((i & 1) * 4);
  }
  return out;
}

export function tensorProto(name: string, tensor: TensorValue): InstanceType<typeof onnx.TensorProto> {
  const count = tensor.values.length;
  let raw: Uint8Array;
  switch (tensor.dataType) {
    case 'float': raw = new Uint8Array(Float32Array.from(tensor.values).buffer); break;
    case 'int64': raw = new Uint8Array(BigInt64Array.from(Array.from(tensor.values, (v) => BigInt(Math.trunc(v)))).buffer); break;
    case 'int32': raw = new Uint8Array(Int32Array.from(tensor.values).buffer); break;
    case 'int8': raw = new Uint8Array(Int8Array.from(tensor.values).buffer); break;
    case 'uint8': raw = Uint8Array.from(tensor.values); break;
    case 'int4': raw = packNibbles(tensor.values, true); break;
    case 'uint4': raw = packNibbles(tensor.values, false); break;
  }
  if (tensor.dims.reduce((a, b) => a * b, 1) !== count) throw new Error(`tensor ${name}: ${count} values for dims [${tensor.dims.join(', ')}]`);
  return onnx.TensorProto.create({ name, dims: [...tensor.dims], dataType: DATA_TYPES[tensor.dataType], rawData: raw });
}

function attributeProto(name: string, value: AttributeValue): InstanceType<typeof onnx.AttributeProto> {
  if (typeof value === 'number') return onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value });
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: Buffer.from(value) });
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: value });
  if ('floats' in value) return onnx.AttributeProto.create({ name, type: AttributeType.FLOATS, floats: value.floats });
  if ('float' in value) return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value.float });
  return onnx.AttributeProto.create({ name, type: AttributeType.TENSOR, t: tensorProto('', value.tensor) });
}

function valueInfo(name: string, dims: readonly (number | string)[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

export class OnnxBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly metadataProps: { key: string; value: string }[] = [];
  private counter = 0;

  constructor(private readonly opset: number) {}

  /** A fresh value name with the given prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, dims: readonly (number | string)[]): this {
    this.inputs.push(valueInfo(name, dims));
    return this;
  }

  output(name: string, dims: readonly (number | string)[]): this {
    this.outputs.push(valueInfo(name, dims));
    return this;
  }

  initializer(name: string, tensor: TensorValue): string {
    this.initializers.push(tensorProto(name, tensor));
    return name;
  }

  /** Adds a node; returns its first output's name. */
  node(opType: string, inputs: readonly string[], outputs: readonly string[] | string, attributes: Record<string, AttributeValue> = {}, name?: string): string {
    const outs = typeof outputs === 'string' ? [outputs] : [...outputs];
    this.nodes.push(
      onnx.NodeProto.create({
        name: name ?? `${opType}_${this.nodes.length}`,
        opType,
        input: [...inputs],
        output: outs,
        attribute: Object.entries(attributes).map(([key, value]) => attributeProto(key, value)),
      }),
    );
    return outs[0];
  }

  /** A model-level metadata_props entry (key, value). */
  metadata(key: string, value: string): this {
    this.metadataProps.push({ key, value });
    return this;
  }

  /** A Constant node holding `tensor`; returns its output name. */
  constant(tensor: TensorValue, prefix = 'const'): string {
    return this.node('Constant', [], this.fresh(prefix), { value: { tensor } });
  }

  encode(producer = 'arq'): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: this.opset >= 21 ? 10 : this.opset >= 15 ? 8 : 7,
      producerName: producer,
      opsetImport: [{ domain: '', version: this.opset }],
      metadataProps: this.metadataProps,
      graph: { name: 'graph', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
