/** Series the report derives from records: certified accuracy against radius, and the running best of a sequence. */

/** A vertex of a step function drawn horizontally to the next vertex's x, then vertically. */
export interface StepVertex {
  x: number;
  y: number;
}

/**
 * The exact certified-accuracy curve f(r) = (images with a non-null radius >= r) / images, as step vertices over
 * [0, until]: f is constant between consecutive distinct radii and drops just after each one. Nulls (abstained or
 * wrong) count in the denominator only. `until` extends the last (zero) level to the axis end.
 */
export function certifiedCurve(radii: readonly (number | null)[], until = 0): StepVertex[] {
  const total = radii.length;
  if (total === 0) return [];
  const sorted = radii.filter((r): r is number => r !== null && Number.isFinite(r) && r >= 0).sort((a, b) => a - b);
  const vertices: StepVertex[] = [{ x: 0, y: sorted.length / total }];
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i + 1] === sorted[i]) continue;
    // Past sorted[i], only the radii after index i remain.
    vertices.push({ x: sorted[i], y: (sorted.length - i - 1) / total });
  }
  const end = vertices[vertices.length - 1];
  if (until > end.x) vertices.push({ x: until, y: end.y });
  return vertices;
}

/** The running maximum of `values` (NaN entries keep the previous best; leading NaNs stay NaN). */
export function runningBest(values: readonly number[]): number[] {
  let best = NaN;
  return values.map((v) => {
    if (Number.isFinite(v) && !(v <= best)) best = v;
    return best;
  });
}
