/**
 * The l-infinity box of an image at radius eps, as the set of float32 images the engine can be given: every x' with
 * |x'_i - x_i| <= eps (exactly, in real arithmetic) and 0 <= x'_i <= 1. For float32 pixels this set is exactly
 * [lo, hi] per pixel with lo = the smallest float32 >= max(0, x - eps) and hi = the largest float32 <= min(1, x + eps)
 * (rounded inwards), so a proof over [lo, hi] covers every float32 input in the ball and a counterexample found in
 * [lo, hi] lies in the ball.
 */
import { ArqError } from '../util/errors.js';

const scratch = new Float32Array(1);
const bits = new Int32Array(scratch.buffer);

/** The float32 next to the finite float32 `value` in direction `up` (true: towards +Infinity). */
function nextFloat32(value: number, up: boolean): number {
  if (value === 0) return up ? 2 ** -149 : -(2 ** -149);
  scratch[0] = value;
  bits[0] += (value > 0) === up ? 1 : -1;
  return scratch[0];
}

/** The smallest float32 >= v (v finite). */
export function float32Up(v: number): number {
  const f = Math.fround(v);
  return f < v ? nextFloat32(f, true) : f;
}

/** The largest float32 <= v (v finite). */
export function float32Down(v: number): number {
  const f = Math.fround(v);
  return f > v ? nextFloat32(f, false) : f;
}

export interface Box {
  readonly lo: Float32Array;
  readonly hi: Float32Array;
}

/** The box of `image` (values in [0, 1]) at radius eps in [0, 1]; `name` names the image in errors. */
export function boxOf(image: Float32Array, eps: number, name = 'image'): Box {
  const lo = new Float32Array(image.length);
  const hi = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) {
    const x = image[i];
    if (!(x >= 0 && x <= 1)) throw new ArqError(`${name}: pixel ${i} is ${x}: verification needs images in [0, 1]`);
    lo[i] = float32Up(Math.max(0, x - eps));
    hi[i] = float32Down(Math.min(1, x + eps));
  }
  return { lo, hi };
}

/** Whether every value of `images` (any number of images of the box's size) lies inside the box. */
export function insideBox(box: Box, images: Float32Array): boolean {
  const size = box.lo.length;
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    if (!(v >= box.lo[i % size] && v <= box.hi[i % size])) return false;
  }
  return true;
}
