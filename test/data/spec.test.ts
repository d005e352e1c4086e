import { describe, expect, it } from 'vitest';
import { parseDataSpec, type DataSpec, type Split } from '../../src/data/index.js';
import { ArqError } from '../../src/util/errors.js';

describe('parseDataSpec', () => {
  const good: [string, Split, DataSpec][] = [
    ['mnist', 'test', { kind: 'mnist', name: 'mnist:test', split: 'test' }],
    ['mnist', 'train', { kind: 'mnist', name: 'mnist:train', split: 'train' }],
    ['mnist:train', 'test', { kind: 'mnist', name: 'mnist:train', split: 'train' }],
    ['mnist:test', 'train', { kind: 'mnist', name: 'mnist:test', split: 'test' }],
    ['mnist#train', 'test', { kind: 'mnist', name: 'mnist:train', split: 'train' }],
    ['mnist#test', 'train', { kind: 'mnist', name: 'mnist:test', split: 'test' }],
    ['fashion-mnist', 'test', { kind: 'fashion-mnist', name: 'fashion-mnist:test', split: 'test' }],
    ['fashion-mnist:train', 'test', { kind: 'fashion-mnist', name: 'fashion-mnist:train', split: 'train' }],
    ['fashion-mnist#test', 'train', { kind: 'fashion-mnist', name: 'fashion-mnist:test', split: 'test' }],
    ['idx:/a/img.gz,/a/lab', 'test', { kind: 'idx', name: 'idx:/a/img.gz,/a/lab', images: '/a/img.gz', labels: '/a/lab' }],
    ['idx:rel/i#1,C:/x:y', 'train', { kind: 'idx', name: 'idx:rel/i#1,C:/x:y', images: 'rel/i#1', labels: 'C:/x:y' }],
    ['cifar10:/data/c10', 'test', { kind: 'cifar10', name: 'cifar10:/data/c10#test', dir: '/data/c10', split: 'test' }],
    ['cifar10:/data/c10', 'train', { kind: 'cifar10', name: 'cifar10:/data/c10#train', dir: '/data/c10', split: 'train' }],
    ['cifar10:/data/c10#train', 'test', { kind: 'cifar10', name: 'cifar10:/data/c10#train', dir: '/data/c10', split: 'train' }],
    ['cifar10:/data/c10#test', 'train', { kind: 'cifar10', name: 'cifar10:/data/c10#test', dir: '/data/c10', split: 'test' }],
    ['cifar10:a#b:c', 'train', { kind: 'cifar10', name: 'cifar10:a#b:c#train', dir: 'a#b:c', split: 'train' }],
    ['cifar10:d#test#train', 'test', { kind: 'cifar10', name: 'cifar10:d#test#train', dir: 'd#test', split: 'train' }],
    ['npy:X.npy,Y.npy', 'test', { kind: 'npy', name: 'npy:X.npy,Y.npy', x: 'X.npy', y: 'Y.npy' }],
    ['npy:/p/x.npy,/q/y.npy', 'train', { kind: 'npy', name: 'npy:/p/x.npy,/q/y.npy', x: '/p/x.npy', y: '/q/y.npy' }],
  ];
  for (const [spec, split, expected] of good) {
    it(`${spec} (default ${split})`, () => expect(parseDataSpec(spec, split)).toEqual(expected));
  }

  const bad: [string, string][] = [
    ['', 'empty spec'],
    ['foo:bar', 'unknown kind "foo"'],
    ['foo', 'unknown kind "foo"'],
    ['MNIST', 'unknown kind "MNIST"'],
    [':x', 'missing the kind'],
    ['/path/to/file', 'missing the kind'],
    ['mnist:val', 'mnist takes an optional split'],
    ['mnist:', 'mnist takes an optional split'],
    ['mnist:train#test', 'mnist takes an optional split'],
    ['mnist ', 'mnist takes an optional split'],
    ['mnistx', 'unknown kind "mnistx"'],
    ['fashion-mnist:val', 'fashion-mnist takes an optional split'],
    ['fashion', 'unknown kind "fashion"'],
    ['idx', 'idx needs two paths'],
    ['idx:onlyone', 'idx needs exactly two comma-separated paths'],
    ['idx:a,', 'idx needs exactly two comma-separated paths'],
    ['idx:,b', 'idx needs exactly two comma-separated paths'],
    ['idx:a,b,c', 'idx needs exactly two comma-separated paths'],
    ['npy:', 'npy needs exactly two comma-separated paths'],
    ['npy', 'npy needs two paths'],
    ['npy:x.npy', 'npy needs exactly two comma-separated paths'],
    ['cifar10', 'cifar10 needs a directory'],
    ['cifar10:', 'cifar10 needs a directory'],
    ['cifar10:#train', 'cifar10 needs a directory'],
    ['cifar10/data', 'cifar10 needs a directory, cifar10:DIR'],
  ];
  for (const [spec, message] of bad) {
    it(`rejects ${JSON.stringify(spec)}`, () => {
      let caught: unknown;
      try {
        parseDataSpec(spec, 'test');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ArqError);
      const text = (caught as Error).message;
      expect(text).toContain(`data spec ${JSON.stringify(spec)}: `);
      expect(text).toContain(message);
      expect(text).toContain('expected one of mnist, mnist:train, mnist:test, fashion-mnist[:train|:test], idx:IMAGES,LABELS, cifar10:DIR[#train|#test], npy:X.npy,Y.npy');
    });
  }
});
