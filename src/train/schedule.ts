/** The cosine learning-rate schedule shared by training and QAT: lr * (1 + cos(pi * step / steps)) / 2. */
export function cosineRate(lr: number, step: number, steps: number): number {
  return (lr * (1 + Math.cos((Math.PI * step) / steps))) / 2;
}
