// A realistic synthetic SearchReport for report tests: a 5-layer MNIST-sized CNN, ARQ/HAQ/random searches with
// plausible rewards under a W4A4 budget (first and last layers pinned to 8 bits, budget-enforced like search.md),
// and all six final entries with per-image certified radii. Deterministic for a given seed.
import type { LayerBits } from '../../src/engine/int-plan.js';
import type { EpisodeRecord, FinalEntry, ReportLayer, SearchName, SearchReport } from '../../src/report/types.js';

export interface SampleOptions {
  /** Episodes per search (default 60, the first 20 warm-up for the agents). */
  episodes?: number;
  /** Test images per final entry (default 200). */
  images?: number;
  seed?: number;
}

/** mulberry32: a small seeded generator, enough for fixtures. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LAYERS: ReportLayer[] = [
  { name: '/conv1/Conv', op: 'conv', macs: 16 * 28 * 28 * 9, params: 16 * 9 + 16 },
  { name: '/conv2/Conv', op: 'conv', macs: 32 * 14 * 14 * 16 * 9, params: 32 * 16 * 9 + 32 },
  { name: '/conv3/Conv', op: 'conv', macs: 64 * 7 * 7 * 32 * 9, params: 64 * 32 * 9 + 64 },
  { name: '/fc1/Gemm', op: 'gemm', macs: 64 * 7 * 7 * 128, params: 64 * 7 * 7 * 128 + 128 },
  { name: '/fc2/Gemm', op: 'gemm', macs: 128 * 10, params: 128 * 10 + 10 },
];
const TOTAL_MACS = LAYERS.reduce((s, l) => s + l.macs, 0);
const BUDGET = 16 / 1024;
const SIGMA = 0.5;
const LAMBDA = 0.1;
const ACR_FLOAT = 0.62;
const CLEAN_FLOAT = 0.991;

export function bitopsPercent(policy: readonly LayerBits[]): number {
  return (100 * policy.reduce((s, l, i) => s + LAYERS[i].macs * l.wbits * l.abits, 0)) / (TOTAL_MACS * 1024);
}

/** search.md's enforcement: lower widths one at a time from the last free layer backwards until within budget. */
function enforceBudget(policy: LayerBits[]): LayerBits[] {
  const free = policy.map((_, i) => i).filter((i) => i > 0 && i < policy.length - 1);
  while (bitopsPercent(policy) > 100 * BUDGET + 1e-12) {
    for (const i of [...free].reverse()) {
      const l = policy[i];
      policy[i] = l.wbits >= l.abits && l.wbits > 2 ? { ...l, wbits: l.wbits - 1 } : l.abits > 2 ? { ...l, abits: l.abits - 1 } : l;
      if (bitopsPercent(policy) <= 100 * BUDGET + 1e-12) break;
    }
  }
  return policy;
}

const toBits = (a: number) => Math.min(8, Math.max(2, Math.round(2 - 0.5 + a * 7)));

/** Per-layer sensitivity to quantization: the first and last layers matter most, as in practice. */
const SENSITIVITY = [0.35, 0.1, 0.1, 0.1, 0.35];

/** How much quantization hurts, growing fast below 4 bits. */
function damage(policy: readonly LayerBits[]): number {
  return policy.reduce((s, l, i) => s + (SENSITIVITY[i] * (4 ** (2 - l.wbits) + 4 ** (2 - l.abits))) / 2, 0);
}

function searchEpisodes(search: SearchName, count: number, rand: () => number): EpisodeRecord[] {
  const warmupCount = search === 'random' ? 0 : Math.min(20, count);
  // The agent drifts towards a good policy: more bits on the small layers, fewer on the large conv2/conv3.
  const target = search === 'haq' ? [1, 0.5, 0.35, 0.45, 1] : [1, 0.42, 0.5, 0.4, 1];
  const records: EpisodeRecord[] = [];
  for (let episode = 0; episode < count; episode++) {
    const warmup = episode < warmupCount;
    const noise = 0.5 * 0.99 ** episode;
    const actions = LAYERS.flatMap((_, i) => [0, 1].map(() => (warmup || search === 'random' ? rand() : Math.min(1, Math.max(0, target[i] + (rand() - 0.5) * noise)))));
    const raw = LAYERS.map((l, i) => ({ name: l.name, wbits: i === 0 || i === LAYERS.length - 1 ? 8 : toBits(actions[2 * i]), abits: i === 0 || i === LAYERS.length - 1 ? 8 : toBits(actions[2 * i + 1]) }));
    const policy = enforceBudget(raw);
    const hurt = damage(policy);
    const jitter = (rand() - 0.5) * 0.01;
    const certify = 2 + rand() * 1.5;
    const agent = search === 'random' ? 0 : 0.02;
    const common = { search, episode, warmup, actions, policy, repair: { lowered: 0, bitops_removed_percent: 0 }, bitops_percent: bitopsPercent(policy), timings: { quantize: 0.05, finetune: 0, certify, agent, total: 0.05 + certify + agent } };
    if (search === 'haq') {
      const clean = Math.max(0, CLEAN_FLOAT - 0.4 * hurt + jitter / 2);
      records.push({ ...common, reward: LAMBDA * (clean - CLEAN_FLOAT), reward_parts: { clean_accuracy: clean, clean_accuracy_float: CLEAN_FLOAT } });
    } else {
      const acr = Math.max(0, ACR_FLOAT * (1 - 1.2 * hurt) + jitter);
      records.push({ ...common, reward: LAMBDA * (acr - ACR_FLOAT), reward_parts: { acr, acr_float: ACR_FLOAT, smoothed_accuracy: Math.min(1, 0.97 - hurt / 2), smoothed_accuracy_float: 0.97 } });
    }
  }
  return records;
}

const GRID = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];

/** Per test image: whether it is hard, whether a miss abstains, how confident the float model is. */
type ImageDraw = [number, number, number];

/**
 * A full CERTIFY's figures for a model whose quality drops by `hurt` (0 for float). Every entry sees the same
 * images (`draws`), so entries differ by their damage, not by sampling luck.
 */
function finalEntry(label: string, policy: LayerBits[] | null, hurt: number, draws: readonly ImageDraw[], rand: () => number): FinalEntry {
  const images = draws.length;
  let abstained = 0;
  const radii = draws.map(([hard, abstains, confidence]) => {
    if (hard > 0.95 - 2 * hurt) {
      if (abstains < 0.45) abstained++;
      return null;
    }
    // Cohen's radius sigma * probit(pA) tops out near 3.8 sigma at n = 100000; most images sit well below.
    const c = Math.min(1, Math.max(0, confidence + (rand() - 0.5) * 0.1));
    return Number((SIGMA * 3.8 * (1 - c ** 0.8) * (1 - 2 * hurt)).toFixed(4));
  });
  const certified = (r: number) => radii.filter((x) => x !== null && x >= r).length / images;
  return {
    label,
    policy,
    bitops_percent: policy ? bitopsPercent(policy) : 100,
    acr: radii.reduce<number>((s, r) => s + (r ?? 0), 0) / images,
    certified_accuracy: Object.fromEntries(GRID.map((r) => [String(r), certified(r)])),
    clean_accuracy: certified(0),
    abstain_rate: abstained / images,
    certified_radii: radii,
    results: `final/${label.replace(/\s+/g, '-').toLowerCase()}.tsv`,
    seconds: 40 + rand() * 10,
  };
}

const uniform = (w: number, a: number): LayerBits[] => LAYERS.map((l) => ({ name: l.name, wbits: w, abits: a }));

const best = (episodes: readonly EpisodeRecord[], search: SearchName) =>
  episodes.filter((e) => e.search === search).reduce((a, b) => (b.reward > a.reward ? b : a));

export function sampleReport(options: SampleOptions = {}): SearchReport {
  const { episodes: count = 60, images = 200, seed = 7 } = options;
  const rand = generator(seed);
  const episodes = (['arq', 'haq', 'random'] as const).flatMap((s) => searchEpisodes(s, count, rand));
  const winner = (search: SearchName) => best(episodes, search).policy;
  const draws = Array.from({ length: images }, (): ImageDraw => [rand(), rand(), rand()]);
  const entry = (label: string, policy: LayerBits[]) => finalEntry(label, policy, damage(policy), draws, rand);
  return {
    format: 'arq-search-report/1',
    created: '2025-03-14T09:26:53.589Z',
    model: { path: 'models/mnist_cnn_sigma0.5.onnx', sha256: 'c0ffee5d1b0e9a7c3f2e4d6b8a0c1e3f5a7b9d1c3e5f7a9b1d3f5e7a9c1b3d5f' },
    data: 'mnist',
    sigma: SIGMA,
    budget: BUDGET,
    reward: 'arq',
    settings: { episodes: count, warmup: 20, lambda: LAMBDA, min_bits: 2, max_bits: 8, pin_first_last: true, finetune: false, val_images: 500, test_images: images, n0: 100, n: 100000, alpha: 0.001, seed },
    layers: LAYERS,
    episodes,
    timings: { calibrate: 3.2, 'float certify (validation)': 95.4, 'search arq': 180.3, 'search haq': 61.2, 'search random': 170.9, 'final certify': 292.5, total: 803.5 },
    float: finalEntry('float', null, 0, draws, rand),
    arq: entry('ARQ', winner('arq')),
    haq: entry('HAQ', winner('haq')),
    random: entry('random search', winner('random')),
    uniform: entry('uniform W4A4', uniform(4, 4)),
    w8a8: entry('W8A8', uniform(8, 8)),
  };
}
