/**
 * The `--data` spec grammar (pure; no file access):
 *
 *   mnist | mnist:train | mnist:test | mnist#train | mnist#test
 *   fashion-mnist[:train|:test|#train|#test]   Debian's dataset-fashion-mnist files
 *   idx:IMAGES,LABELS                 MNIST-format idx files, plain or gzipped
 *   cifar10:DIR[#train|#test]         CIFAR-10 binary batches in DIR
 *   npy:X.npy,Y.npy                   NumPy images and labels
 *
 * Plain `mnist`, `fashion-mnist` and `cifar10:DIR` take the caller's default split. idx and npy paths are taken verbatim (they may
 * contain ':' and '#', but not ','); a cifar10 DIR may contain ':' and '#' except a trailing '#train'/'#test'.
 */
import { ArqError } from '../util/errors.js';
import type { Split } from './dataset.js';

export type DataSpec =
  | { readonly kind: 'mnist' | 'fashion-mnist'; readonly name: string; readonly split: Split }
  | { readonly kind: 'idx'; readonly name: string; readonly images: string; readonly labels: string }
  | { readonly kind: 'cifar10'; readonly name: string; readonly dir: string; readonly split: Split }
  | { readonly kind: 'npy'; readonly name: string; readonly x: string; readonly y: string };

export const DATA_SPEC_FORMS = 'mnist, mnist:train, mnist:test, fashion-mnist[:train|:test], idx:IMAGES,LABELS, cifar10:DIR[#train|#test], npy:X.npy,Y.npy';

function bad(spec: string, why: string): ArqError {
  return new ArqError(`data spec ${JSON.stringify(spec)}: ${why}; expected one of ${DATA_SPEC_FORMS}`);
}

function pathPair(spec: string, kind: 'idx' | 'npy', rest: string, what: string): [string, string] {
  const parts = rest.split(',');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw bad(spec, `${kind} needs exactly two comma-separated paths, ${kind}:${what}`);
  }
  return [parts[0], parts[1]];
}

export function parseDataSpec(spec: string, defaultSplit: Split): DataSpec {
  if (typeof spec !== 'string' || spec === '') throw bad(String(spec), 'empty spec');
  if (defaultSplit !== 'train' && defaultSplit !== 'test') throw new ArqError(`parseDataSpec: default split must be train or test, got ${String(defaultSplit)}`);
  const kind = /^[A-Za-z0-9_-]*/.exec(spec)![0];
  const after = spec.slice(kind.length);
  switch (kind) {
    case 'mnist':
    case 'fashion-mnist': {
      const m = /^(?:[:#](train|test))?$/.exec(after);
      if (!m) throw bad(spec, `${kind} takes an optional split, :train or :test`);
      const split = (m[1] as Split | undefined) ?? defaultSplit;
      return { kind, name: `${kind}:${split}`, split };
    }
    case 'cifar10': {
      if (!after.startsWith(':') || after.length === 1) throw bad(spec, 'cifar10 needs a directory, cifar10:DIR');
      let dir = after.slice(1);
      let split = defaultSplit;
      const m = /#(train|test)$/.exec(dir);
      if (m) {
        split = m[1] as Split;
        dir = dir.slice(0, -m[0].length);
      }
      if (dir === '') throw bad(spec, 'cifar10 needs a directory, cifar10:DIR');
      return { kind, name: `cifar10:${dir}#${split}`, dir, split };
    }
    case 'idx': {
      if (!after.startsWith(':')) throw bad(spec, 'idx needs two paths, idx:IMAGES,LABELS');
      const [images, labels] = pathPair(spec, kind, after.slice(1), 'IMAGES,LABELS');
      return { kind, name: `idx:${images},${labels}`, images, labels };
    }
    case 'npy': {
      if (!after.startsWith(':')) throw bad(spec, 'npy needs two paths, npy:X.npy,Y.npy');
      const [x, y] = pathPair(spec, kind, after.slice(1), 'X.npy,Y.npy');
      return { kind, name: `npy:${x},${y}`, x, y };
    }
    default:
      throw bad(spec, kind === '' ? 'missing the kind' : `unknown kind ${JSON.stringify(kind)}`);
  }
}

/** The spec of the training images that go with `spec` (calibration defaults to them): the train split of MNIST or
 * CIFAR-10, or the same files for idx and npy data, which have no split. */
export function trainingSpec(spec: string): string {
  const parsed = parseDataSpec(spec, 'train');
  if (parsed.kind === 'mnist' || parsed.kind === 'fashion-mnist') return `${parsed.kind}:train`;
  if (parsed.kind === 'cifar10') return `cifar10:${parsed.dir}#train`;
  return spec;
}
