import { describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../src/report/html.js';
import type { SearchReport } from '../../src/report/types.js';
import { sampleReport } from './sample-report.js';
import { checkWellFormed, svgBlocks } from './xml.js';

/** The data-series names inside one chart. */
function seriesOf(svg: string): Set<string> {
  return new Set([...svg.matchAll(/data-series="([^"]*)"/g)].map((m) => m[1]));
}

function charts(html: string): Map<string, string> {
  return new Map(svgBlocks(html).map((svg) => [/data-chart="([^"]+)"/.exec(svg)![1], svg]));
}

function expectCleanPage(html: string): void {
  expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
  expect(html).not.toMatch(/NaN|Infinity|undefined|\[object Object\]/);
  expect(html).not.toMatch(/<script|<link|<img|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  const svgs = svgBlocks(html);
  expect(svgs).toHaveLength(4);
  for (const svg of svgs) checkWellFormed(svg);
}

describe('renderReportHtml', () => {
  const report = sampleReport();
  const html = renderReportHtml(report);

  it('draws four well-formed, self-contained SVG charts', () => {
    expectCleanPage(html);
    expect([...charts(html).keys()]).toEqual(['radius', 'bits', 'reward', 'bitops-acr']);
  });

  it('has every series the design asks for', () => {
    const byId = charts(html);
    expect(seriesOf(byId.get('reward')!)).toEqual(
      new Set(['ARQ', 'ARQ warm-up', 'ARQ best', 'HAQ', 'HAQ warm-up', 'HAQ best', 'random search', 'random search warm-up', 'random search best']),
    );
    // HAQ's reward measures clean accuracy, so only ARQ and random search have validation ACR.
    expect(seriesOf(byId.get('bitops-acr')!)).toEqual(new Set(['ARQ', 'random search', 'Pareto front', 'Pareto front members']));
    expect(byId.get('bitops-acr')).toContain('budget 1.56%');
    expect(seriesOf(byId.get('radius')!)).toEqual(new Set(['float', 'ARQ', 'HAQ', 'random search', 'uniform W4A4', 'W8A8']));
    const bits = byId.get('bits')!;
    expect([...bits.matchAll(/data-panel="([^"]*)"/g)].map((m) => m[1].split(':')[0])).toEqual(['ARQ', 'HAQ', 'random search']);
    expect(seriesOf(bits)).toEqual(new Set(['weight bits', 'activation bits']));
    // 3 panels x 5 layers x (weights, activations).
    expect((bits.match(/<rect x/g) ?? []).length).toBeGreaterThanOrEqual(30);
  });

  it('draws one point per episode and one reward line per search', () => {
    const reward = charts(html).get('reward')!;
    const points = (reward.match(/<g class="points"[\s\S]*?<\/g>/g) ?? []).join('');
    expect((points.match(/<circle /g) ?? []).length).toBe(report.episodes.length);
    expect((reward.match(/class="line"/g) ?? []).length).toBe(3);
  });

  it('tabulates every final entry with BitOps, accuracies at the radii present, ACR relative to float and abstentions', () => {
    const rows = [...html.matchAll(/<tr[^>]*data-entry="(\w+)"[^>]*>([\s\S]*?)<\/tr>/g)];
    expect(rows.map((r) => r[1])).toEqual(['float', 'arq', 'haq', 'random', 'uniform', 'w8a8']);
    const cells = (row: string) => [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]);
    const float = cells(rows[0][2]);
    expect(float.slice(0, 2)).toEqual(['float', '100%']);
    expect(float).toHaveLength(10);
    expect(float[8]).toBe('100.0%');
    const w8a8 = cells(rows[5][2]);
    expect(w8a8[1]).toBe('6.25%');
    expect(w8a8[2]).toBe(`${(100 * report.w8a8!.clean_accuracy).toFixed(1)}%`);
    expect(w8a8[4]).toBe(`${(100 * report.w8a8!.certified_accuracy['0.5']).toFixed(1)}%`);
    expect(w8a8[8]).toBe(`${((100 * report.w8a8!.acr) / report.float!.acr).toFixed(1)}%`);
    expect(html).toMatch(/cert\. acc\.<br>r = 1</);
  });

  it('states the header facts and keeps settings collapsible', () => {
    expect(html).toContain('models/mnist_cnn_sigma0.5.onnx');
    expect(html).toContain('<code>c0ffee5d1b0e</code>');
    expect(html).toContain('1.56% of float BitOps (uniform W4A4');
    expect(html).toMatch(/<details><summary>settings \(13\)<\/summary>/);
    expect(html).toContain('13 min 24 s');
  });

  it('escapes text from the report', () => {
    const hostile: SearchReport = { ...report, model: { path: 'a<b>&"c".onnx', sha256: '<script>' }, settings: { '<k>': '</td>' } };
    const page = renderReportHtml(hostile);
    expectCleanPage(page);
    expect(page).toContain('a&lt;b&gt;&amp;&quot;c&quot;.onnx');
    expect(page).not.toContain('<k>');
  });
});

describe('renderReportHtml with missing or degenerate data', () => {
  const full = sampleReport({ episodes: 30, images: 40 });
  const { float, arq } = full;
  const bare: SearchReport = { ...full, float: undefined, arq: undefined, haq: undefined, random: undefined, uniform: undefined, w8a8: undefined };

  it('renders a search that has not run yet (no episodes, no final entries)', () => {
    const html = renderReportHtml({ ...bare, episodes: [], timings: {} });
    expectCleanPage(html);
    expect(html).toContain('no episodes yet');
    expect(html).toContain('no final certification yet');
    expect(html).toContain('no policy yet');
    expect(html).toContain('No final certification yet');
  });

  it('falls back to the best episode so far when a search has no certified winner', () => {
    const html = renderReportHtml({ ...bare, float, arq });
    expectCleanPage(html);
    expect(html).toMatch(/data-panel="HAQ: best episode so far/);
    expect([...html.matchAll(/data-entry="(\w+)"/g)].map((m) => m[1])).toEqual(['float', 'arq']);
  });

  it('survives a single episode, all-equal values and NaN in the records', () => {
    const one = full.episodes.slice(0, 1);
    expectCleanPage(renderReportHtml({ ...bare, episodes: one }));
    const flat = full.episodes.map((e) => ({ ...e, reward: 0, bitops_percent: 1.5625, reward_parts: { acr: 0.5, acr_float: 0.5 } }));
    expectCleanPage(renderReportHtml({ ...full, episodes: flat }));
    const broken = full.episodes.map((e, i) => (i % 3 ? e : { ...e, reward: NaN, bitops_percent: NaN, reward_parts: { acr: NaN } }));
    const html = renderReportHtml({ ...full, episodes: broken, float: { ...float!, acr: NaN, certified_radii: [NaN, null, 0.4] }, arq: { ...arq!, certified_radii: [] } });
    expectCleanPage(html);
  });

  it('handles a policy without certified accuracy keys and a report without layers', () => {
    const html = renderReportHtml({ ...full, layers: [], float: { ...float!, certified_accuracy: {} } });
    expectCleanPage(html);
    expect(html).toContain('<td>—</td>');
  });
});

describe('renderReportHtml: like-for-like rules, repair counts and layer sensitivity', () => {
  const base = sampleReport();
  const bits = [2, 3, 4, 5, 6, 7, 8];
  const report: SearchReport = {
    ...base,
    rules: { budget: 0.015625, min_bits: 2, max_bits: 8, pin_ends: true },
    repair: { arq: { episodes: 120, repaired: 0, lowered: 0, mean_bitops_removed_percent: 0 }, random: { episodes: 120, repaired: 3, lowered: 7, mean_bitops_removed_percent: 0.0125 } },
    sensitivity: {
      format: 'arq-sensitivity/1', sigma: 0.25, seed: 0, images: 64, samples: 256, bits, base: base.layers.map((l) => ({ name: l.name, wbits: 8, abits: 8 })),
      base_kl: 1e-5, base_disagreement: 0, seconds: 2,
      layers: base.layers.map((l, i) => ({
        name: l.name, macs: l.macs, weights: bits.map((b) => (i + 1) * 2 ** -b), activations: bits.map((b) => 3 ** -b),
        weights_disagreement: bits.map(() => 0), activations_disagreement: bits.map(() => 0),
      })),
    },
  };
  const html = renderReportHtml(report);

  it('states the rules every budgeted entry obeyed', () => {
    expect(html).toMatch(/<p class="caption" data-rules>Rules of every budgeted policy \(ARQ, HAQ, random search, uniform, knapsack\): BitOps ≤ 1\.56% of float, widths 2\.\.8, first and last layers pinned at 8 bits/);
    expect(renderReportHtml({ ...report, rules: { ...report.rules!, pin_ends: false } })).toContain('widths 2..8, no layer pinned');
  });

  it('counts per search how often the repair had to act', () => {
    const row = (search: string) => new RegExp(`<tr data-search="${search}">[\\s\\S]*?</tr>`).exec(html)![0];
    expect(row('arq')).toContain('<td>0 of 120</td>');
    expect(row('random')).toContain('<td>3 of 120, −0.0125 pt BitOps each</td>');
  });

  it('counts each search\'s warm-up and local-search episodes, and shades the local search in the reward chart', () => {
    const row = (page: string, search: string) => new RegExp(`<tr data-search="${search}">[\\s\\S]*?</tr>`).exec(page)![0];
    expect(row(html, 'arq')).toContain('<td>60 (20 warm-up)</td>');
    expect(html).not.toContain('local search');
    const local = { ...report, episodes: report.episodes.map((x) => (x.search !== 'random' && x.episode >= 40 ? { ...x, local_search: true } : x)) };
    const page = renderReportHtml(local);
    expect(row(page, 'arq')).toContain('<td>60 (20 warm-up, 20 local search)</td>');
    expect(row(page, 'random')).toContain('<td>60</td>');
    expect(page).toMatch(/>local search</);
  });

  it('tabulates the layer sensitivity: one row per layer, W2..W8 then A2..A8', () => {
    const table = /<table class="sensitivity">([\s\S]*?)<\/table>/.exec(html)![1];
    const rows = [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...m[1].matchAll(/<td>([\s\S]*?)<\/td>/g)].map((c) => c[1])).filter((r) => r.length);
    expect(rows).toHaveLength(base.layers.length);
    expect(rows[1][0]).toBe(base.layers[1].name);
    expect(rows[1].slice(2, 9)).toEqual(bits.map((b) => (2 * 2 ** -b).toExponential(1)));
    expect(rows[1].slice(9)).toEqual(bits.map((b) => (3 ** -b).toExponential(1)));
    expect(html).toContain('every other layer as in W8A8');
  });
});

describe('renderReportHtml: measured time per image beside BitOps', () => {
  const base = sampleReport();
  const measured = (seconds: number, ratio: number, engine: 'int' | 'float' = 'int') => ({
    engine, kernels: engine === 'int' ? 'qu8_qs8_gemm_ukernel_8x32c4__avx512vnni' : 'f32_gemm', seconds_per_image: seconds, seconds_per_image_range: [0.9 * seconds, 1.2 * seconds] as const, time_vs_w8a8: ratio, time_vs_w8a8_range: [0.95 * ratio, 1.1 * ratio] as const,
  });
  const w8a8 = measured(30e-6, 1);
  const report: SearchReport = {
    ...base,
    time: { engine: 'int', isa: 'avx512vnni', cpu: 'avx512vnni', batch: 400, threads: 2, repeats: 5, round_ms: 100, inputs: '400 images uniform on [0, 1), seed 0', w8a8 },
    float: { ...base.float!, time: measured(210e-6, 7, 'float') },
    arq: { ...base.arq!, time: measured(31.5e-6, 1.05) },
    haq: { ...base.haq!, time: measured(29.1e-6, 0.97) },
    random: { ...base.random!, time: measured(30.3e-6, 1.01) },
    uniform: { ...base.uniform!, time: measured(30.6e-6, 1.02) },
    w8a8: { ...base.w8a8!, time: w8a8 },
  };
  const html = renderReportHtml(report);
  const rows = () => [...html.matchAll(/<tr[^>]*data-entry="(\w+)"[^>]*>([\s\S]*?)<\/tr>/g)].map((m) => [m[1], [...m[2].matchAll(/<td([^>]*)>([\s\S]*?)<\/td>/g)].map((c) => ({ attributes: c[1], text: c[2] }))] as const);

  it('adds the time per image and its ratio to W8A8 to every entry, the rounds\' range as a tooltip', () => {
    expectCleanPage(html);
    expect(html).toMatch(/<th>abstain<\/th><th>time \/ image<\/th><th>time vs W8A8<\/th>/);
    const table = new Map(rows());
    expect(table.get('arq')!.slice(-2).map((c) => c.text)).toEqual(['31.5 µs', '1.05×']);
    expect(table.get('arq')!.at(-2)!.attributes).toContain('title="rounds 28.4 µs – 37.8 µs"');
    expect(table.get('arq')!.at(-1)!.attributes).toContain('title="rounds 1.00 – 1.16"');
    expect(table.get('float')!.slice(-2).map((c) => c.text)).toEqual(['210 µs', '7.00×']);
    expect(table.get('w8a8')!.slice(-2).map((c) => c.text)).toEqual(['30 µs', '1.00×']);
  });

  it('says how the times were measured, and that BitOps is not time', () => {
    const caption = /<p class="caption" data-time>([\s\S]*?)<\/p>/.exec(html)![1];
    expect(caption).toContain('integer engine (float: arq\'s fp32 plan), avx512vnni, batch 400, 2 threads, median of 5 interleaved rounds on 400 images uniform on [0, 1), seed 0');
    expect(caption).toContain('W8A8 30 µs');
    expect(caption).toContain('BitOps is a model of arithmetic, not time on this CPU');
  });

  it('keeps the table of a report without times (written before they were measured) as it was, and dashes an entry without one', () => {
    expect(renderReportHtml(base)).not.toContain('time / image');
    expect(renderReportHtml(base)).not.toContain('data-time');
    const partial = renderReportHtml({ ...report, haq: base.haq });
    expectCleanPage(partial);
    const haq = [...partial.matchAll(/<tr[^>]*data-entry="haq"[^>]*>([\s\S]*?)<\/tr>/g)][0][1];
    expect([...haq.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].slice(-2).map((c) => c[1])).toEqual(['—', '—']);
  });
});
