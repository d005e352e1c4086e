/**
 * The JavaScript reference of the integer kernels' requantization (quantization.md, Operators), shared by the
 * qu8-qs8 kernel tests: fmaf(float(acc), m, b) emulated exactly, then clamp and round half to even.
 */

/** Round half to even: the one rounding rule of arq's quantization. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 next to r (a float32, finite) in the direction of `toward`. */
function nextF32(r: number, toward: number): number {
  if (r === 0) return toward > 0 ? 2 ** -149 : -(2 ** -149);
  f32[0] = r;
  u32[0] += (toward > r) === (r > 0) ? 1 : -1;
  return f32[0];
}

/**
 * fmaf(float(acc), m, b) rounded once, exactly: float(acc) is fround of an exact integer; the product of two 24-bit
 * significands is exact in a double; TwoSum gives the exact error of the double sum, which decides the one case a
 * double sum could round wrongly (landing exactly halfway between two float32 values).
 */
export function fmaF32(acc: number, m: number, b: number): number {
  const x = Math.fround(acc);
  const p = x * m;
  const s = p + b;
  const bv = s - p;
  const err = (p - (s - bv)) + (b - bv);
  let r = Math.fround(s);
  if (err !== 0 && r !== s) {
    const other = nextF32(r, s);
    if (s - r === other - s) r = err > 0 ? Math.max(r, other) : Math.min(r, other);
  }
  return r;
}

/** requant_code: the fused result clamped to [min, max] (as float32) and rounded half to even. */
export function requantCode(acc: number, m: number, b: number, min: number, max: number): number {
  const y = Math.min(Math.max(fmaF32(acc, m, b), Math.fround(min)), Math.fround(max));
  return roundHalfEven(y);
}
