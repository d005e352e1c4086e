/**
 * The four charts of report.html, built from a SearchReport with the primitives of svg.ts: reward per episode, bits
 * per layer, every episode's BitOps against validation ACR with the Pareto front, and certified accuracy against
 * radius of each final entry.
 */
import type { LayerBits } from '../engine/int-plan.js';
import { FINAL_KEYS, SEARCH_NAMES, type EpisodeRecord, type FinalKey, type SearchName, type SearchReport } from './types.js';
import { certifiedCurve, runningBest } from './curves.js';
import { bitops, fixed, percent } from './format.js';
import { paretoFront } from './pareto.js';
import { barChart, niceScale, xyChart, type BarPanel, type LegendItem, type Mark, type RefLine } from './svg.js';

const CHART_WIDTH = 960;

/** Okabe-Ito colours, distinguishable with the common colour-vision deficiencies. */
export const SEARCH_STYLE: Record<SearchName, { label: string; color: string }> = {
  arq: { label: 'ARQ', color: '#0072B2' },
  haq: { label: 'HAQ', color: '#D55E00' },
  random: { label: 'random search', color: '#009E73' },
};

export const FINAL_COLOR: Record<FinalKey, string> = {
  float: '#000000',
  arq: SEARCH_STYLE.arq.color,
  haq: SEARCH_STYLE.haq.color,
  random: SEARCH_STYLE.random.color,
  uniform: '#CC79A7',
  knapsack: '#56B4E9',
  w8a8: '#E69F00',
};

const NEUTRAL = '#555';

/** Episodes of each search that has any, in SEARCH_NAMES order, each sorted by episode number. */
export function episodesBySearch(episodes: readonly EpisodeRecord[]): [SearchName, EpisodeRecord[]][] {
  return SEARCH_NAMES.map((name): [SearchName, EpisodeRecord[]] => [name, episodes.filter((e) => e.search === name).sort((a, b) => a.episode - b.episode)]).filter(
    ([, list]) => list.length > 0,
  );
}

const REWARD_AXIS: Record<SearchReport['reward'], string> = {
  arq: 'reward  λ·(ACR − ACR float)',
  'arq-acc': 'reward  λ·(ΔACR + Δ smoothed acc.)',
  haq: 'reward  λ·(Δ clean accuracy)',
  'arq-soft': 'reward  λ·Δ(radius + soft margin)/2',
};

/** A shaded band over the episodes `episodes` (a phase of the searches), or null when there are none. */
function span(episodes: readonly number[], label: string): { from: number; to: number; label: string } | null {
  return episodes.length ? { from: Math.min(...episodes) - 0.5, to: Math.max(...episodes) + 0.5, label } : null;
}

/** Plot 1: each episode's reward (warm-up episodes hollow; warm-up and local search over shaded bands) and each search's best so far. */
export function rewardChart(report: SearchReport): string {
  const marks: Mark[] = [];
  const legend: LegendItem[] = [];
  const groups = episodesBySearch(report.episodes);
  for (const [name, episodes] of groups) {
    const { label, color } = SEARCH_STYLE[name];
    const point = (e: EpisodeRecord) => ({ x: e.episode, y: e.reward, title: `${label} episode ${e.episode}: reward ${fixed(e.reward, 4)}, BitOps ${bitops(e.bitops_percent)}` });
    marks.push({ kind: 'points', series: `${label} warm-up`, color, hollow: true, points: episodes.filter((e) => e.warmup).map(point) });
    marks.push({ kind: 'points', series: label, color, opacity: 0.8, points: episodes.filter((e) => !e.warmup).map(point) });
    legend.push({ label, color, swatch: 'point' });
  }
  for (const [name, episodes] of groups) {
    const best = runningBest(episodes.map((e) => e.reward));
    marks.push({ kind: 'line', series: `${SEARCH_STYLE[name].label} best`, color: SEARCH_STYLE[name].color, step: true, width: 2, points: episodes.map((e, i) => ({ x: e.episode, y: best[i] })) });
  }
  const warmup = report.episodes.filter((e) => e.warmup).map((e) => e.episode);
  const local = report.episodes.filter((e) => e.local_search).map((e) => e.episode);
  if (groups.length) legend.push({ label: 'best so far', color: NEUTRAL, swatch: 'line' });
  if (warmup.length) legend.push({ label: 'warm-up episode (random actions)', color: NEUTRAL, swatch: 'hollow' });
  return xyChart({
    id: 'reward',
    title: 'Reward per episode',
    width: CHART_WIDTH,
    height: 380,
    x: { label: 'episode', domain: [0, Math.max(1, ...report.episodes.map((e) => e.episode))] },
    y: { label: REWARD_AXIS[report.reward] },
    marks,
    bands: [span(warmup, 'warm-up'), span(local, 'local search')].filter((band) => band !== null),
    legend,
    empty: 'no episodes yet',
  });
}

/** Plot 3: BitOps % against validation ACR of every episode that measured ACR, with the Pareto front and budget. */
export function acrChart(report: SearchReport): string {
  const measured = report.episodes.filter((e) => Number.isFinite(e.reward_parts.acr) && Number.isFinite(e.bitops_percent));
  const marks: Mark[] = [];
  const legend: LegendItem[] = [];
  for (const [name, episodes] of episodesBySearch(measured)) {
    const { label, color } = SEARCH_STYLE[name];
    legend.push({ label, color, swatch: 'point' });
    const points = episodes.map((e) => ({ x: e.bitops_percent, y: e.reward_parts.acr!, title: `${label} episode ${e.episode}: BitOps ${bitops(e.bitops_percent)}, ACR ${fixed(e.reward_parts.acr, 3)}` }));
    marks.push({ kind: 'points', series: label, color, opacity: 0.75, points });
  }
  const front = paretoFront(measured, (e) => e.bitops_percent, (e) => e.reward_parts.acr!).map((e) => ({
    x: e.bitops_percent,
    y: e.reward_parts.acr!,
    title: `Pareto front: ${SEARCH_STYLE[e.search].label} episode ${e.episode}, BitOps ${bitops(e.bitops_percent)}, ACR ${fixed(e.reward_parts.acr, 3)}`,
  }));
  if (front.length) {
    marks.push({ kind: 'line', series: 'Pareto front', color: '#222', width: 1.6, step: true, points: front });
    marks.push({ kind: 'points', series: 'Pareto front members', color: '#222', hollow: true, radius: 5.5, points: front });
    legend.push({ label: 'Pareto front', color: '#222', swatch: 'line' });
  }
  const refLines: RefLine[] = [{ axis: 'x', value: 100 * report.budget, label: `budget ${bitops(100 * report.budget)}`, color: '#B00020' }];
  const floatAcr = measured.find((e) => Number.isFinite(e.reward_parts.acr_float))?.reward_parts.acr_float;
  if (floatAcr !== undefined) refLines.push({ axis: 'y', value: floatAcr, label: `float ${fixed(floatAcr, 3)} (validation)`, color: NEUTRAL });
  return xyChart({
    id: 'bitops-acr',
    title: 'Validation ACR against BitOps, every episode',
    width: CHART_WIDTH,
    height: 420,
    x: { label: 'BitOps, % of float', format: (v) => `${Number(v.toPrecision(6))}%` },
    y: { label: 'ACR on the validation subset (IRS)' },
    marks,
    refLines,
    legend,
    empty: 'no episode has measured ACR yet',
  });
}

const BITS_COLOR = { weights: '#0072B2', activations: '#56B4E9' };

/** The policy a bits panel shows for a search: its certified winner, or else its best episode so far. */
function searchPolicy(report: SearchReport, name: SearchName): { title: string; policy: readonly LayerBits[] } | undefined {
  const entry = report[name];
  if (entry?.policy) return { title: `${entry.label}: ${bitops(entry.bitops_percent)} BitOps, ACR ${fixed(entry.acr, 3)}`, policy: entry.policy };
  const episodes = report.episodes.filter((e) => e.search === name && Number.isFinite(e.reward));
  if (!episodes.length) return undefined;
  const best = episodes.reduce((a, b) => (b.reward > a.reward ? b : a));
  return { title: `${SEARCH_STYLE[name].label}: best episode so far (${best.episode}), ${bitops(best.bitops_percent)} BitOps, not yet certified`, policy: best.policy };
}

/** The most common value (first among ties). */
function mode(values: readonly number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | undefined;
  for (const [v, c] of counts) if (best === undefined || c > counts.get(best)!) best = v;
  return best;
}

/** Plot 2: weight and activation bits per layer, one panel per search's policy, uniform as reference lines. */
export function bitsChart(report: SearchReport): string {
  const shown = SEARCH_NAMES.map((name) => searchPolicy(report, name)).filter((p) => p !== undefined);
  const names = report.layers.length ? report.layers.map((l) => l.name) : (shown[0]?.policy.map((l) => l.name) ?? []);
  const totalMacs = report.layers.reduce((sum, l) => sum + l.macs, 0);
  const hints = names.map((name, i) => {
    const layer = report.layers[i];
    return layer && totalMacs > 0 ? `layer ${i + 1}: ${name} (${layer.op}, ${percent(layer.macs / totalMacs)} of MACs)` : `layer ${i + 1}: ${name}`;
  });
  const panels: BarPanel[] = shown.map(({ title, policy }) => {
    const byName = new Map(policy.map((l) => [l.name, l]));
    const at = (key: 'wbits' | 'abits') => names.map((name) => byName.get(name)?.[key] ?? null);
    return {
      title,
      series: [
        { name: 'weight bits', color: BITS_COLOR.weights, values: at('wbits') },
        { name: 'activation bits', color: BITS_COLOR.activations, values: at('abits') },
      ],
    };
  });
  // Uniform is flat by definition: a reference line at its widths reads better than one more panel.
  const uniform = report.uniform;
  const refLines: { value: number; color: string }[] = [];
  const legend: LegendItem[] = [
    { label: 'weight bits', color: BITS_COLOR.weights, swatch: 'rect' },
    { label: 'input activation bits', color: BITS_COLOR.activations, swatch: 'rect' },
  ];
  if (uniform?.policy?.length) {
    const color = FINAL_COLOR.uniform;
    const w = mode(uniform.policy.map((l) => l.wbits))!;
    const a = mode(uniform.policy.map((l) => l.abits))!;
    refLines.push(...[...new Set([w, a])].map((value) => ({ value, color })));
    legend.push({ label: w === a ? uniform.label : `${uniform.label} (weights ${w}, activations ${a})`, color, swatch: 'dash' });
  }
  return barChart({
    id: 'bits',
    title: 'Weight and activation bits per layer',
    width: CHART_WIDTH,
    panelHeight: 120,
    categories: names.map((_, i) => String(i + 1)),
    categoryHints: hints,
    xLabel: 'quantizable layer (in order; hover for names)',
    y: { label: 'bits', domain: [0, 8], ticks: 4 },
    panels,
    refLines,
    legend,
    valueLabels: true,
    empty: 'no policy yet',
  });
}

/** Plot 4: certified accuracy against radius, exact step curves from each final entry's per-image radii. */
export function radiusChart(report: SearchReport): string {
  const entries = FINAL_KEYS.flatMap((key) => {
    const entry = report[key];
    return entry && entry.certified_radii.length ? [{ key, entry }] : [];
  });
  // Curves often coincide (float and W8A8): ARQ is drawn over the baselines, and dashed float over everything.
  const drawOrder = (key: FinalKey) => (key === 'float' ? 2 : key === 'arq' ? 1 : 0);
  const radii = entries.flatMap(({ entry }) => entry.certified_radii.filter((r): r is number => r !== null && Number.isFinite(r)));
  const until = niceScale(0, Math.max(0.25, ...radii), 8).hi;
  const marks: Mark[] = [];
  const legend: LegendItem[] = [];
  for (const { key, entry } of entries) {
    const color = FINAL_COLOR[key];
    const dash = key === 'float';
    const points = certifiedCurve(entry.certified_radii, until).map((v) => ({ x: v.x, y: 100 * v.y }));
    marks.push({ kind: 'line', series: entry.label, color, step: true, dash, width: key === 'arq' ? 2.6 : 1.8, points });
    legend.push({ label: `${entry.label} (ACR ${fixed(entry.acr, 3)})`, color, swatch: dash ? 'dash' : 'line' });
  }
  const ordered = marks.map((mark, i) => ({ mark, order: drawOrder(entries[i].key) })).sort((a, b) => a.order - b.order);
  return xyChart({
    id: 'radius',
    title: 'Certified accuracy against radius (test subset, full CERTIFY)',
    width: CHART_WIDTH,
    height: 400,
    x: { label: 'radius r (L2)', domain: [0, until], ticks: 8 },
    y: { label: 'certified accuracy at radius ≥ r', domain: [0, 100], format: (v) => `${v}%` },
    marks: ordered.map((o) => o.mark),
    legend,
    empty: 'no final certification yet',
  });
}
