/**
 * The fuzz suite's harness: runs cases in a child process (child.ts) under a time limit per case and a memory bound,
 * and turns every way the child can go wrong into a result naming the case that was running: a signal or a non-zero
 * exit (crash), no progress within the time limit (hang), resident memory or an allocation past the bound
 * (memory). The child runs many cases in a row; after a failure a new child goes on with the next case.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FUZZ_LINE, type CaseKind, type FuzzCase, type FuzzJob, type StepReport } from './protocol.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
export const CORPUS_DIR = path.join(HERE, 'corpus');

export type Outcome = 'passed' | 'rejected' | 'crash' | 'hang' | 'memory';

export interface CaseResult {
  readonly fuzzCase: FuzzCase;
  readonly outcome: Outcome;
  /** The pipeline step the case had reached. */
  readonly stage: string;
  /** The error (rejected), the signal or exit code and the end of stderr (crash), the bound that was passed. */
  readonly detail: string;
}

export interface HarnessOptions {
  /** The model data cases run on. */
  readonly referenceModel: string;
  /** Where job files go. */
  readonly workDir: string;
  /** Longest a case may run before it counts as a hang. */
  readonly caseSeconds: number;
  /** Resident memory bound of the child (and its data-segment limit where prlimit exists). */
  readonly memoryBytes: number;
}

/** Messages of allocations refused at the memory bound: the case needed more memory than it may use. */
const ALLOCATION_FAILED = /allocation failed|bad_alloc|out of memory|Cannot allocate memory|heap limit/i;

const FILE_ROLES: Record<CaseKind, readonly (keyof FuzzCase['files'])[]> = { model: ['model'], idx: ['images', 'labels'], npy: ['images', 'labels'] };
const EXTENSIONS: Record<CaseKind, string> = { model: 'onnx', idx: 'idx', npy: 'npy' };

/** Writes a case's inputs into `dir` under content-addressed names and returns the case. */
export function writeCase(dir: string, kind: CaseKind, contents: Partial<Record<'model' | 'images' | 'labels', Uint8Array>>, description: string): FuzzCase {
  const hash = createHash('sha256');
  for (const role of FILE_ROLES[kind]) hash.update(contents[role]!);
  const id = `${kind}-${hash.digest('hex').slice(0, 12)}`;
  const files: Record<string, string> = {};
  for (const role of FILE_ROLES[kind]) {
    files[role] = path.join(dir, `${id}.${role}.${EXTENSIONS[kind]}`);
    writeFileSync(files[role], contents[role]!);
  }
  return { id, kind, files, description };
}

/** Every case kept in the corpus folder (inputs that found bugs), with the note saved beside it. */
export function corpusCases(): FuzzCase[] {
  if (!existsSync(CORPUS_DIR)) return [];
  const names = readdirSync(CORPUS_DIR);
  const cases: FuzzCase[] = [];
  for (const name of names.filter((n) => n.endsWith('.txt')).sort()) {
    const id = name.slice(0, -4);
    const kind = id.split('-')[0] as CaseKind;
    if (!(kind in FILE_ROLES)) continue;
    const files = Object.fromEntries(FILE_ROLES[kind].map((role) => [role, path.join(CORPUS_DIR, `${id}.${role}.${EXTENSIONS[kind]}`)]));
    if (Object.values(files).every((file) => existsSync(file))) {
      cases.push({ id, kind, files, description: readFileSync(path.join(CORPUS_DIR, name), 'utf8').split('\n')[0] });
    }
  }
  return cases;
}

/** Copies a failing case's inputs into the corpus with a note: what it is, how it failed, how to replay it. */
export function saveToCorpus(result: CaseResult, origin: string): string {
  mkdirSync(CORPUS_DIR, { recursive: true });
  const { fuzzCase } = result;
  for (const [role, file] of Object.entries(fuzzCase.files)) {
    const target = path.join(CORPUS_DIR, `${fuzzCase.id}.${role}.${EXTENSIONS[fuzzCase.kind]}`);
    if (path.resolve(file) !== target) copyFileSync(file, target);
  }
  const note = path.join(CORPUS_DIR, `${fuzzCase.id}.txt`);
  writeFileSync(note, `${fuzzCase.description}\n${origin}\n${result.outcome} at ${result.stage}: ${result.detail}\n`);
  return note;
}

const hasPrlimit = spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status === 0;

function residentBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** One child over `cases` until they are done or one of them fails the child; the results it produced. */
async function runChild(cases: readonly FuzzCase[], options: HarnessOptions, jobIndex: number, onResult: (result: CaseResult) => void): Promise<CaseResult[]> {
  const jobFile = path.join(options.workDir, `job-${jobIndex}.json`);
  writeFileSync(jobFile, JSON.stringify({ referenceModel: options.referenceModel, cases } satisfies FuzzJob));
  const node = [process.execPath, '--import', 'tsx', `--max-old-space-size=${Math.floor(options.memoryBytes / 2 ** 21)}`, path.join(HERE, 'child.ts'), jobFile];
  const command = hasPrlimit ? ['prlimit', `--data=${options.memoryBytes}`, '--', ...node] : node;
  const child = spawn(command[0], command.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const byId = new Map(cases.map((c) => [c.id, c]));
  const results: CaseResult[] = [];
  let current: { fuzzCase: FuzzCase; stage: string; started: number } | undefined;
  let killedFor: { outcome: 'hang' | 'memory'; detail: string } | undefined;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const kill = (outcome: 'hang' | 'memory', detail: string) => {
    killedFor ??= { outcome, detail };
    child.kill('SIGKILL');
  };
  const watch = setInterval(() => {
    if (current && performance.now() - current.started > options.caseSeconds * 1000) kill('hang', `no result within ${options.caseSeconds} s`);
    const rss = residentBytes(child.pid!);
    if (rss > options.memoryBytes) kill('memory', `resident memory ${(rss / 2 ** 20).toFixed(0)} MiB over the ${(options.memoryBytes / 2 ** 20).toFixed(0)} MiB bound`);
  }, 100);
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (!line.startsWith(FUZZ_LINE)) return;
    const report = JSON.parse(line.slice(FUZZ_LINE.length)) as StepReport;
    const fuzzCase = byId.get(report.id)!;
    if (current?.fuzzCase !== fuzzCase) current = { fuzzCase, stage: report.stage, started: performance.now() };
    current.stage = report.stage;
    if (!report.outcome) return;
    const memory = report.outcome === 'rejected' && ALLOCATION_FAILED.test(report.message ?? '');
    const detail = report.outcome === 'rejected' ? `${report.error}: ${report.message}` : (report.note ?? '');
    const result: CaseResult = { fuzzCase, outcome: memory ? 'memory' : report.outcome, stage: report.stage, detail };
    results.push(result);
    onResult(result);
    current = undefined;
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  clearInterval(watch);
  const done = new Set(results.map((r) => r.fuzzCase.id));
  const culprit = current?.fuzzCase ?? cases.find((c) => !done.has(c.id));
  if (results.length === cases.length) return results;
  if (!culprit || (!current && results.length === 0 && exit.code !== 0 && !killedFor)) {
    throw new Error(`the fuzz child failed before its first case (code ${exit.code}, signal ${exit.signal}): ${stderr}`);
  }
  const stage = current?.stage ?? 'start';
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
  const failure: CaseResult = killedFor
    ? { fuzzCase: culprit, outcome: killedFor.outcome, stage, detail: killedFor.detail }
    : { fuzzCase: culprit, outcome: 'crash', stage, detail: `${how}; stderr: ${stderr.trim().split('\n').slice(-12).join(' | ')}` };
  results.push(failure);
  onResult(failure);
  return results;
}

/**
 * Runs every case, each exactly once, in as few children as failures allow; `onResult` hears of each result as soon
 * as it is known (a failure can be saved before the run ends).
 */
export async function runCases(cases: readonly FuzzCase[], options: HarnessOptions, onResult: (result: CaseResult) => void = () => {}): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  let remaining = [...cases];
  for (let job = 0; remaining.length > 0; job++) {
    const batch = await runChild(remaining, options, job, onResult);
    results.push(...batch);
    const done = new Set(batch.map((r) => r.fuzzCase.id));
    remaining = remaining.filter((c) => !done.has(c.id));
  }
  return results;
}
