import { describe, expect, it } from 'vitest';
import { paretoFront } from '../../src/report/pareto.js';

type P = { id: string; bitops: number; acr: number };
const front = (points: P[]) => paretoFront(points, (p) => p.bitops, (p) => p.acr).map((p) => p.id);
const p = (id: string, bitops: number, acr: number): P => ({ id, bitops, acr });

describe('paretoFront (lower BitOps, higher ACR)', () => {
  it('is empty for no points and the point itself for one', () => {
    expect(front([])).toEqual([]);
    expect(front([p('a', 1, 0.5)])).toEqual(['a']);
  });

  it('keeps undominated points sorted by BitOps and drops dominated ones', () => {
    const points = [p('mid', 1.2, 0.5), p('cheap', 1.0, 0.3), p('dominated', 1.3, 0.45), p('best', 1.5, 0.6), p('worse-and-dearer', 1.6, 0.55)];
    expect(front(points)).toEqual(['cheap', 'mid', 'best']);
  });

  it('at equal BitOps keeps only the highest ACR, at equal ACR only the cheapest', () => {
    expect(front([p('low', 1, 0.2), p('high', 1, 0.4)])).toEqual(['high']);
    expect(front([p('dear', 2, 0.4), p('cheap', 1, 0.4)])).toEqual(['cheap']);
  });

  it('keeps one of several identical points (the first)', () => {
    expect(front([p('first', 1, 0.4), p('second', 1, 0.4)])).toEqual(['first']);
  });

  it('keeps every point of a strictly increasing chain and only the cheapest of a decreasing one', () => {
    const chain = [3, 1, 2, 0].map((i) => p(`c${i}`, i, i / 10));
    expect(front(chain)).toEqual(['c0', 'c1', 'c2', 'c3']);
    const falling = [0, 1, 2].map((i) => p(`f${i}`, i, 1 - i / 10));
    expect(front(falling)).toEqual(['f0']);
  });

  it('ignores points with a non-finite coordinate', () => {
    expect(front([p('nan', 0.5, NaN), p('inf', Infinity, 1), p('ok', 1, 0.2)])).toEqual(['ok']);
  });

  it('every point off the front is dominated by a front member, and no member dominates another', () => {
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const points = Array.from({ length: 300 }, (_, i) => p(String(i), Math.round(rand() * 50) / 10, Math.round(rand() * 100) / 100));
    const members = paretoFront(points, (q) => q.bitops, (q) => q.acr);
    const dominates = (a: P, b: P) => a.bitops <= b.bitops && a.acr >= b.acr && (a.bitops < b.bitops || a.acr > b.acr);
    for (const q of points) {
      if (!members.includes(q)) expect(members.some((m) => dominates(m, q) || (m.bitops === q.bitops && m.acr === q.acr))).toBe(true);
    }
    for (const a of members) for (const b of members) expect(dominates(a, b)).toBe(false);
  });
});
