import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, niceScale, tickLabel, xyChart, type XYChartSpec } from '../../src/report/svg.js';
import { checkWellFormed } from './xml.js';

describe('niceScale', () => {
  it('covers the data with steps of 1, 2 or 5 times a power of ten', () => {
    expect(niceScale(0, 1)).toMatchObject({ lo: 0, hi: 1, step: 0.2, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], decimals: 1 });
    expect(niceScale(0, 59, 6)).toMatchObject({ lo: 0, hi: 60, step: 10 });
    expect(niceScale(1.117, 1.5625, 6)).toMatchObject({ lo: 1.1, hi: 1.6, step: 0.1 });
    expect(niceScale(-0.046, -0.004)).toMatchObject({ lo: -0.05, hi: 0, step: 0.01, decimals: 2 });
    expect(niceScale(0, 8, 4).ticks).toEqual([0, 2, 4, 6, 8]);
    expect(niceScale(0, 100).ticks).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceScale(0, 1.9, 8)).toMatchObject({ lo: 0, hi: 2, step: 0.5 });
  });

  it('prints ticks without float noise', () => {
    const scale = niceScale(0.1, 0.7, 6);
    expect(scale.ticks.map((t) => tickLabel(t, scale.decimals))).toEqual(['0.1', '0.2', '0.3', '0.4', '0.5', '0.6', '0.7']);
    expect(tickLabel(-0.0001, 2)).toBe('0.00');
  });

  it('does not add a step for a bound that sits on a tick', () => {
    expect(niceScale(0.30000000000000004, 0.7).lo).toBe(0.3);
  });

  it('widens flat, reversed and non-finite ranges to a usable axis', () => {
    expect(niceScale(0, 0)).toMatchObject({ lo: -1, hi: 1 });
    const flat = niceScale(1.5625, 1.5625);
    expect(flat.lo).toBeLessThan(1.5625);
    expect(flat.hi).toBeGreaterThan(1.5625);
    expect(niceScale(5, 1)).toMatchObject({ lo: 1, hi: 5 });
    expect(niceScale(NaN, Infinity)).toMatchObject({ lo: 0, hi: 1 });
    for (const s of [niceScale(1e-9, 3e-9), niceScale(-1e6, 1e6), niceScale(7, 7.000001)]) {
      expect(s.lo).toBeLessThan(s.hi);
      expect(s.ticks.every(Number.isFinite)).toBe(true);
      expect(s.ticks.length).toBeGreaterThanOrEqual(2);
      expect(s.ticks.length).toBeLessThanOrEqual(12);
    }
  });
});

describe('charts', () => {
  const base: XYChartSpec = { id: 't', title: 'T', width: 400, height: 300, x: { label: 'x' }, y: { label: 'y' }, marks: [], legend: [] };

  it('escapes every piece of text', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const svg = xyChart({
      ...base,
      title: 'a < b & "c"',
      x: { label: '<x>' },
      marks: [{ kind: 'points', series: 'S&P <500>', color: '#000', points: [{ x: 1, y: 2, title: '1 < 2 & 3' }] }],
      refLines: [{ axis: 'x', value: 1, label: '<budget>' }],
      legend: [{ label: 'S&P <500>', color: '#000', swatch: 'point' }],
    });
    checkWellFormed(svg);
    expect(svg).not.toMatch(/<budget>|<x>|S&P/);
  });

  it('never prints NaN or Infinity, whatever the data', () => {
    const cases: XYChartSpec[] = [
      base,
      { ...base, marks: [{ kind: 'line', series: 'one', color: '#000', points: [{ x: 3, y: 3 }] }] },
      { ...base, marks: [{ kind: 'points', series: 'flat', color: '#000', points: [1, 2, 3].map(() => ({ x: 2, y: 0.5 })) }] },
      { ...base, marks: [{ kind: 'line', series: 'nan', color: '#000', step: true, points: [{ x: NaN, y: 1 }, { x: 1, y: Infinity }, { x: 2, y: 2 }, { x: 3, y: 1 }] }] },
      { ...base, refLines: [{ axis: 'y', value: NaN, label: 'nan' }], bands: [{ from: NaN, to: 3, label: 'b' }] },
    ];
    for (const spec of cases) {
      const svg = xyChart(spec);
      checkWellFormed(svg);
      expect(svg).not.toMatch(/NaN|Infinity/);
    }
    const bars = barChart({
      id: 'b',
      title: 'B',
      width: 400,
      panelHeight: 80,
      categories: ['1', '2'],
      xLabel: 'layer',
      y: { label: 'bits' },
      panels: [{ title: 'p', series: [{ name: 's', color: '#000', values: [NaN, null] }] }],
      legend: [],
    });
    checkWellFormed(bars);
    expect(bars).not.toMatch(/NaN|Infinity/);
  });

  it('shows the empty message when there is nothing to draw', () => {
    expect(xyChart({ ...base, empty: 'nothing yet' })).toContain('nothing yet');
    expect(barChart({ id: 'b', title: 'B', width: 400, panelHeight: 80, categories: [], xLabel: 'l', y: { label: 'y' }, panels: [], legend: [], empty: 'no policy' })).toContain('no policy');
  });

  it('draws a step line as horizontal then vertical segments', () => {
    const svg = xyChart({ ...base, marks: [{ kind: 'line', series: 's', color: '#000', step: true, points: [{ x: 0, y: 1 }, { x: 1, y: 0 }] }] });
    expect(svg).toMatch(/d="M[\d.]+ [\d.]+H[\d.]+V[\d.]+"/);
  });

  it('gives each bar panel one group per series with one bar per non-null value', () => {
    const svg = barChart({
      id: 'b',
      title: 'B',
      width: 600,
      panelHeight: 100,
      categories: ['1', '2', '3'],
      xLabel: 'layer',
      y: { label: 'bits', domain: [0, 8] },
      panels: [
        { title: 'A', series: [{ name: 'w', color: '#0072B2', values: [8, 4, 2] }, { name: 'a', color: '#56B4E9', values: [8, null, 3] }] },
        { title: 'B', series: [{ name: 'w', color: '#0072B2', values: [8, 8, 8] }] },
      ],
      refLines: [{ value: 4 }],
      legend: [{ label: 'w', color: '#0072B2', swatch: 'rect' }],
      valueLabels: true,
    });
    checkWellFormed(svg);
    const panels = svg.split('class="panel"').slice(1);
    expect(panels).toHaveLength(2);
    expect((panels[0].match(/<rect /g) ?? []).length).toBe(5);
    expect((panels[1].match(/<rect /g) ?? []).length).toBe(3);
  });
});
