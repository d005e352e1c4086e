/** The image of a request body: a JSON array of floats, or base64 float32 values or uint8 pixels. */
import { imageValues } from '../util/check.js';
import { ArqError } from '../util/errors.js';

export interface ImageFields {
  image?: number[];
  base64?: string;
  dtype?: 'float32' | 'uint8';
}

/**
 * The request's image as float32 values; throws an ArqError (a 400) naming the field that is wrong, including values
 * that are no image values (as the library's samplers refuse them: NaN, infinities, anything far outside [0, 1]).
 */
export function decodeImage(body: ImageFields, inputSize: number): Float32Array {
  if ((body.image === undefined) === (body.base64 === undefined)) {
    throw new ArqError('body: give the image either as `image` (a JSON array) or as `base64` (with `dtype`), not both or neither');
  }
  if (body.image !== undefined) return imageValues('body/image', Float32Array.from(body.image));
  const bytes = Buffer.from(body.base64!, 'base64');
  const dtype = body.dtype ?? 'float32';
  const expected = dtype === 'uint8' ? inputSize : 4 * inputSize;
  if (bytes.length !== expected) throw new ArqError(`body/base64: expected ${expected} bytes (${inputSize} ${dtype} values), got ${bytes.length}`);
  if (dtype === 'uint8') return Float32Array.from(bytes, (pixel) => pixel / 255);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return imageValues('body/base64', Float32Array.from({ length: inputSize }, (_, i) => view.getFloat32(4 * i, true)));
}
