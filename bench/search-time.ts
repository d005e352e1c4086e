/**
 * Where a search's time goes: `search()` with the given options, and per stage its wall seconds and the process's
 * CPU seconds (user + system, every thread: the native samplers' included). On a shared machine the wall time
 * stretches with the other jobs' load; the CPU seconds much less, so two versions measured in the same conditions
 * compare by CPU. Also prints per search how many episodes reused a reward already measured (`repeated`), and the
 * final rows, to check that two versions compute the same table (docs/search-design.md, "Time").
 *
 *   npm run bench -- search-time --out runs/search-time [--options '{"episodes":40,"warmup":10,...}']
 */
import { parseArgs } from 'node:util';
import { search, type SearchOptions } from '../src/search/search.js';
import { bundledModelPath } from '../src/onnx/model.js';
import { FINAL_KEYS, SEARCH_NAMES } from '../src/report/types.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'runs/search-time' }, options: { type: 'string', default: '{}' } } });
const options: SearchOptions = { model: bundledModelPath(), out: values.out, overwrite: true, ...(JSON.parse(values.options) as Partial<SearchOptions>) };

const cpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};
const stages = new Map<string, { wall: number; cpu: number }>();
let open: { name: string; wall: number; cpu: number } | null = null;
const close = () => {
  if (!open) return;
  const total = stages.get(open.name) ?? { wall: 0, cpu: 0 };
  stages.set(open.name, { wall: total.wall + performance.now() / 1000 - open.wall, cpu: total.cpu + cpuSeconds() - open.cpu });
};
const run = search(options);
run.on('stage', ({ stage }) => {
  close();
  open = { name: stage.startsWith('final-') ? 'final' : stage, wall: performance.now() / 1000, cpu: cpuSeconds() };
});
const started = { wall: performance.now() / 1000, cpu: cpuSeconds() };
const { report } = await run;
close();

console.log('stage               wall s    CPU s');
for (const [name, t] of stages) console.log(`${name.padEnd(18)} ${t.wall.toFixed(1).padStart(7)}  ${t.cpu.toFixed(1).padStart(7)}`);
console.log(`${'total'.padEnd(18)} ${(performance.now() / 1000 - started.wall).toFixed(1).padStart(7)}  ${(cpuSeconds() - started.cpu).toFixed(1).padStart(7)}`);
for (const name of SEARCH_NAMES) {
  const episodes = report.episodes.filter((e) => e.search === name);
  if (episodes.length) console.log(`${name}: ${episodes.filter((e) => e.repeated).length} of ${episodes.length} episodes reused a measured reward`);
}
for (const key of FINAL_KEYS) {
  const entry = report[key];
  if (entry) console.log(`${entry.label}: BitOps ${entry.bitops_percent.toFixed(3)}%, ACR ${entry.acr}, certified ${JSON.stringify(entry.certified_accuracy)}`);
}
