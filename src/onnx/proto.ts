/**
 * The ONNX protobuf schema (onnx-proto's generated protobufjs code) and the small conversions every reader of it
 * needs: int64 fields arrive as numbers or Long objects, and a tensor's raw bytes are a view into a buffer pool.
 */
import { createRequire } from 'node:module';
import type { onnx as OnnxNamespace } from 'onnx-proto';

const require = createRequire(import.meta.url);
export const onnx: typeof OnnxNamespace = (require('onnx-proto') as { onnx: typeof OnnxNamespace }).onnx;
export type { OnnxNamespace };
export type ModelProto = OnnxNamespace.ModelProto;
export type NodeProto = OnnxNamespace.INodeProto;
export type TensorProto = OnnxNamespace.ITensorProto;
export type AttributeProto = OnnxNamespace.IAttributeProto;

export const DataType = onnx.TensorProto.DataType;
export const AttributeType = onnx.AttributeProto.AttributeType;

/** An int64 field as a JavaScript number (exact up to 2^53; larger magnitudes, e.g. INT64_MAX in Slice, round). */
export function toNumber(value: number | { toString(): string } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : Number(value.toString());
}

/** A copy of the bytes of a rawData view, aligned for typed-array access. */
export function copyBytes(view: Uint8Array): ArrayBuffer {
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer;
}
