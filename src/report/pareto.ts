/**
 * The Pareto front of search episodes over (BitOps %, ACR): lower BitOps is better, higher ACR is better. A point
 * is on the front when no other point is at least as good on both and strictly better on one.
 */

/**
 * Members of the front, sorted by increasing cost (and so increasing gain). Items with a non-finite cost or gain are
 * ignored; of several items with the same (cost, gain), the first is kept.
 */
export function paretoFront<T>(items: readonly T[], cost: (item: T) => number, gain: (item: T) => number): T[] {
  const scored = items
    .map((item, index) => ({ item, index, cost: cost(item), gain: gain(item) }))
    .filter((s) => Number.isFinite(s.cost) && Number.isFinite(s.gain))
    .sort((a, b) => a.cost - b.cost || b.gain - a.gain || a.index - b.index);
  // Sweeping by increasing cost, a point is undominated exactly when it beats every cheaper point's gain.
  const front: T[] = [];
  let best = -Infinity;
  for (const s of scored) {
    if (s.gain > best) {
      front.push(s.item);
      best = s.gain;
    }
  }
  return front;
}
