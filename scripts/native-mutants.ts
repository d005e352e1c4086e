/**
 * Native mutation check (issue 22): applies each mutant of the list below, one at a time, to a scratch copy of the
 * repository, rebuilds the addon there (cmake-js + Ninja + ccache, incremental), runs the test files that should
 * catch it, and reports caught / survived. The working tree is never touched.
 *
 *   npx tsx scripts/native-mutants.ts [--only id,id] [--dir scratch-dir] [--keep]
 *
 * The scratch copy (default build/native-mutants/tree, ignored by git) holds the tracked and untracked-but-not-
 * ignored files and a link to node_modules. CCACHE_BASEDIR is set to the repository root so that the copy's
 * compilations hit the cache of the main build wherever the paths match.
 *
 * Each mutant is a realistic one-line bug; `from` must occur exactly once in its file (a stale entry fails loudly).
 * A mutant that survives must be listed in SURVIVORS with the reason it is acceptable.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Mutant {
  id: string;
  file: string;
  from: string;
  to: string;
  /** What the bug does. */
  what: string;
  /** Test files expected to catch it. */
  tests: string[];
}

const INT_TESTS = ['test/reference/int-semantics.test.ts', 'test/reference/qat.test.ts'];

export const MUTANTS: Mutant[] = [
  {
    id: 'avgpool-half-away',
    file: 'native/engine/int_semantics.h',
    from: 'return static_cast<uint8_t>(std::nearbyint(static_cast<float>(sum) * inv_count));',
    to: 'return static_cast<uint8_t>(std::round(static_cast<float>(sum) * inv_count));',
    what: 'average-pool codes round half away from zero instead of half to even',
    tests: INT_TESTS,
  },
  {
    id: 'add-half-away',
    file: 'native/engine/int_semantics.h',
    from: '  y = std::fmin(std::fmax(y, k.min), k.max);\n  return static_cast<uint8_t>(std::nearbyint(y));',
    to: '  y = std::fmin(std::fmax(y, k.min), k.max);\n  return static_cast<uint8_t>(std::round(y));',
    what: 'residual-add codes round half away from zero',
    tests: INT_TESTS,
  },
  {
    id: 'input-code-half-away',
    file: 'native/engine/int_semantics.h',
    from: 'return static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(t)) + grid.zero);',
    to: 'return static_cast<uint8_t>(static_cast<int32_t>(std::round(t)) + grid.zero);',
    what: 'a float put on a grid (network input, carrier-to-layer table) rounds half away from zero',
    tests: INT_TESTS,
  },
  {
    id: 'clamp-bound-half-away',
    file: 'native/engine/int_semantics.cc',
    from: 'std::nearbyint(static_cast<double>(bound) / grid.scale)',
    to: 'std::round(static_cast<double>(bound) / grid.scale)',
    what: 'a Clip bound on codes, zero + round(bound / scale), rounds half away from zero',
    tests: INT_TESTS,
  },
  {
    id: 'multiplier-rounded-twice',
    file: 'native/engine/int_semantics.cc',
    from: 'k.multiplier[c] = static_cast<float>(static_cast<double>(input.scale) * weight_scales[c] / output->scale);',
    to: 'k.multiplier[c] = static_cast<float>(input.scale * weight_scales[c]) / output->scale;',
    what: 'the requantization multiplier rounds s_a * s_w to float32 before dividing by s_out',
    tests: INT_TESTS,
  },
  {
    id: 'reference-padding-reads-zero-code',
    file: 'native/engine/int_reference.cc',
    from: ': s.input_grid.zero;\n',
    to: ': 0;\n',
    what: 'the reference executor\'s conv padding reads code 0 instead of z_a (a real value of -s_a * z_a)',
    tests: INT_TESTS,
  },
  {
    id: 'histogram-first-thread',
    file: 'native/engine/float_plan.cc',
    from: 'for (size_t i = 0; i < counts.size(); ++i) merged[i] += static_cast<double>(counts[i]);',
    to: 'for (size_t i = 0; i < counts.size(); ++i) merged[i] = static_cast<double>(partial[0][i]);',
    what: 'calibration histograms keep only the first thread\'s counts',
    tests: ['test/reference/calibration.test.ts'],
  },
  {
    id: 'activation-clip-ignores-counts',
    file: 'native/engine/clip_search.cc',
    from: 'error += counts[bin] * (d * d);',
    to: 'error += d * d;',
    what: 'the activation clip search weighs every non-empty bin alike',
    tests: ['test/reference/calibration.test.ts'],
  },
  {
    id: 'weight-clip-last-minimum',
    file: 'native/engine/clip_search.cc',
    from: 'if (error < best_error) best_error = error, best = scale;',
    to: 'if (error <= best_error) best_error = error, best = scale;',
    what: 'the weight clip search keeps the last of equal minima (a smaller clip) instead of the first',
    tests: ['test/reference/calibration.test.ts'],
  },
  {
    id: 'sgd-momentum-ignored',
    file: 'native/train/train_net.cc',
    from: 'tensor.momentum[i] = params.momentum * tensor.momentum[i] + g;',
    to: 'tensor.momentum[i] = g;',
    what: 'SGD ignores momentum (v = g)',
    tests: ['test/reference/optimizer.test.ts'],
  },
  {
    id: 'sgd-weight-decay-sign',
    file: 'native/train/train_net.cc',
    from: 'const float g = tensor.grad[i] + params.weight_decay * tensor.value[i];',
    to: 'const float g = tensor.grad[i] - params.weight_decay * tensor.value[i];',
    what: 'weight decay pushes the weights away from zero',
    tests: ['test/reference/optimizer.test.ts'],
  },
  {
    id: 'sampler-first-sample-ignored',
    file: 'native/certify/sampler.cc',
    from: 'request.first_sample + done + begin,',
    to: 'done + begin,',
    what: 'a sampling call that resumes at sample k redraws the noise of samples 0, 1, ...',
    tests: ['test/smoothing/sampler.test.ts', 'test/smoothing/smoothed-classifier.test.ts'],
  },
  {
    id: 'sampler-argmax-ties-high',
    file: 'native/certify/sampler.cc',
    from: 'if (row[c] > row[best]) best = c;',
    to: 'if (row[c] >= row[best]) best = c;',
    what: 'tied logits count for the highest class instead of the lowest',
    tests: ['test/reference/argmax-ties.test.ts', 'test/smoothing/sampler.test.ts'],
  },
  {
    id: 'streams-first-segment-logits',
    file: 'native/certify/sampler.cc',
    from: 'argmax_row(logits.data() + (g.row + i) * classes, classes)',
    to: 'argmax_row(logits.data() + i * classes, classes)',
    what: 'every stream sharing a batch counts the logits of the batch\'s first rows',
    tests: ['test/serve/streams.test.ts'],
  },
  {
    id: 'sgd-lr-ignored',
    file: 'native/train/train_net.cc',
    from: 'tensor.value[i] -= params.lr * tensor.momentum[i];',
    to: 'tensor.value[i] -= tensor.momentum[i];',
    what: 'SGD steps by the whole velocity, whatever the learning rate',
    tests: ['test/reference/optimizer.test.ts'],
  },
  {
    id: 'cross-entropy-summed',
    file: 'native/train/train_net.cc',
    from: '(prob - (k == labels[b] ? 1.0 : 0.0)) / static_cast<double>(batch)',
    to: '(prob - (k == labels[b] ? 1.0 : 0.0))',
    what: 'the gradient of the mean loss is that of the summed loss (batch times too large)',
    tests: ['test/train/gradients.test.ts'],
  },
  {
    id: 'batchnorm-running-var-biased',
    file: 'native/train/layers.cc',
    from: 'const double unbiased = count > 1 ? var * count / (count - 1) : var;',
    to: 'const double unbiased = var;',
    what: 'batch norm\'s running variance follows the biased batch variance (PyTorch keeps the unbiased one)',
    tests: ['test/train/batchnorm-stats.test.ts'],
  },
  {
    id: 'batchnorm-running-mean-momentum-swapped',
    file: 'native/train/layers.cc',
    from: '(1.0 - op.bn_momentum) * running_mean[c] + op.bn_momentum * mean[c]',
    to: 'op.bn_momentum * running_mean[c] + (1.0 - op.bn_momentum) * mean[c]',
    what: 'the running mean keeps 1 - momentum of the batch mean instead of momentum',
    tests: ['test/train/batchnorm-stats.test.ts'],
  },
  {
    id: 'qat-ste-ignores-clip',
    file: 'native/train/qat_net.cc',
    from: 'gw[i] = std::fabs(static_cast<double>(w[i])) <= clip ? fake_[layer.weight].grad[i] : 0.0f;',
    to: 'gw[i] = fake_[layer.weight].grad[i];',
    what: 'QAT\'s straight-through estimator passes the gradient of weights clipped away',
    tests: ['test/train/qat.test.ts', 'test/reference/qat.test.ts'],
  },
  {
    id: 'verify-corner-opposite',
    file: 'native/verify/branch_bound.cc',
    from: 'ws.point[p] = (coefficient[i] >= 0) == low_end_is_low ? ws.lo[p] : ws.hi[p];',
    to: 'ws.point[p] = (coefficient[i] < 0) == low_end_is_low ? ws.lo[p] : ws.hi[p];',
    what: 'the worst margin\'s corner takes each pixel at the end its linear bound does not use',
    tests: ['test/verify/native-corner.test.ts'],
  },
  {
    id: 'verify-corner-half-twice',
    file: 'native/verify/branch_bound.cc',
    from: 'ws.frames.push_back({p, ws.lo[p], ws.hi[p], ws.lo[p], split.left_hi, {}, false, ws.lower});',
    to: 'ws.frames.push_back({p, ws.lo[p], ws.hi[p], split.right_lo, ws.hi[p], {}, false, ws.lower});',
    what: 'a split that examines the corner\'s (upper) half first examines it again instead of the lower half',
    tests: ['test/verify/native-corner.test.ts'],
  },
  {
    id: 'verify-linear-negative-ends',
    file: 'native/verify/linear_bounds.cc',
    from: '        lo += w * (qh[i] - layer.zero);\n        hi += w * (ql[i] - layer.zero);',
    to: '        lo += w * (ql[i] - layer.zero);\n        hi += w * (qh[i] - layer.zero);',
    what: 'the linear bounds\' interval sums take a negative weight at the same end as a positive one',
    tests: ['test/verify/native-linear.test.ts', 'test/verify/native-verifier.test.ts'],
  },
];

/** Mutants known to survive, with the reason (none at present: docs/mutation.md keeps the history). */
export const SURVIVORS: Record<string, string> = {};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function copyTree(scratch: string): void {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    const source = path.join(root, file);
    if (!existsSync(source)) continue; // deleted in the working tree
    const target = path.join(scratch, file);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(source, target);
  }
  if (!existsSync(path.join(scratch, 'node_modules'))) symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
}

/**
 * ccache when installed: the first build and each restored file then come from the cache. Without it the first build
 * is a full one and every mutant compiles its file twice (mutated, then restored at the next build).
 */
const hasCcache = spawnSync('ccache', ['--version']).status === 0;
const env = hasCcache ? { ...process.env, CMAKE_CXX_COMPILER_LAUNCHER: 'ccache', CCACHE_BASEDIR: root, CCACHE_NOHASHDIR: '1' } : process.env;

function build(scratch: string): boolean {
  const result = spawnSync('npx', ['cmake-js', 'compile', '--CDCMAKE_BUILD_TYPE=Release'], { cwd: scratch, env, encoding: 'utf8' });
  if (result.status !== 0) process.stderr.write(result.stdout.slice(-3000) + result.stderr.slice(-3000));
  return result.status === 0;
}

function runTests(scratch: string, tests: string[]): boolean {
  const present = tests.filter((t) => existsSync(path.join(scratch, t)));
  if (present.length === 0) throw new Error(`none of ${tests.join(', ')} exists`);
  const result = spawnSync('npx', ['vitest', 'run', '--reporter=dot', ...present], { cwd: scratch, env: { ...env, NO_COLOR: '1' }, encoding: 'utf8' });
  return result.status === 0;
}

function main(): void {
  const only = argument('--only')?.split(',');
  const scratch = path.resolve(argument('--dir') ?? path.join(root, 'build/native-mutants/tree'));
  const selected = MUTANTS.filter((m) => !only || only.includes(m.id));
  if (only && selected.length !== only.length) throw new Error(`unknown mutant in --only ${only.join(',')}`);
  if (!hasCcache) process.stdout.write('ccache not found (apt-get install ccache to reuse compilations): a full first build, then each mutant compiles its file twice\n');
  rmSync(scratch, { recursive: true, force: true });
  copyTree(scratch);
  process.stdout.write(`scratch copy in ${scratch}; building the unmutated addon\n`);
  if (!build(scratch)) throw new Error('the unmutated tree does not build');
  const rows: string[] = [];
  let survived = 0;
  for (const mutant of selected) {
    const file = path.join(scratch, mutant.file);
    const original = readFileSync(file, 'utf8');
    const occurrences = original.split(mutant.from).length - 1;
    if (occurrences !== 1) throw new Error(`${mutant.id}: expected its line once in ${mutant.file}, found ${occurrences} times (update the list)`);
    writeFileSync(file, original.replace(mutant.from, mutant.to));
    const started = Date.now();
    let verdict: string;
    if (!build(scratch)) verdict = 'does not build';
    else if (runTests(scratch, mutant.tests)) {
      verdict = SURVIVORS[mutant.id] ? `survived (accepted: ${SURVIVORS[mutant.id]})` : 'SURVIVED';
      if (!SURVIVORS[mutant.id]) survived++;
    } else verdict = 'caught';
    writeFileSync(file, original);
    const line = `${mutant.id.padEnd(32)} ${verdict.padEnd(16)} ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${mutant.what}`;
    rows.push(line);
    process.stdout.write(`${line}\n`);
  }
  if (!process.argv.includes('--keep')) rmSync(scratch, { recursive: true, force: true });
  process.stdout.write(`\n${selected.length - survived} of ${selected.length} mutants caught or accepted\n`);
  process.exitCode = survived > 0 ? 1 : 0;
}

main();
