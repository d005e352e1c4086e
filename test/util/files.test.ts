// The output rule every command follows (checkOutputs) and the atomic write under it.
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputs, writeFileAtomic } from '../../src/util/files.js';
import { nullDevice } from '../cli/run.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => path.join(dir, name);
const input = at('model.onnx');
writeFileSync(input, 'model');

describe('checkOutputs', () => {
  const rule = { flag: '--out', inputs: [input, undefined], overwrite: true };

  it('refuses an input, however it is named: the same path, a relative path, a symbolic link, a hard link', () => {
    symlinkSync(input, at('symlink.onnx'));
    linkSync(input, at('hardlink.onnx'));
    const message = (out: string) => `--out ${out}: is the input ${input} (the same file): writing it would destroy the input; choose another path`;
    for (const out of [input, path.relative(process.cwd(), input), at('symlink.onnx'), at('hardlink.onnx')]) {
      expect(() => checkOutputs([out], rule)).toThrow(message(out));
    }
    // Every file the command writes is checked, not only the first.
    expect(() => checkOutputs([at('fresh.onnx'), at('hardlink.onnx')], rule)).toThrow(message(at('hardlink.onnx')));
  });

  it('replaces an existing file only with overwrite, and says how to resume where a command can', () => {
    writeFileSync(at('old.npy'), 'old');
    expect(() => checkOutputs([at('old.npy')], { ...rule, overwrite: false })).toThrow(`--out ${at('old.npy')}: exists; pass --overwrite to replace it, or choose another path`);
    expect(() => checkOutputs([at('old.npy')], { ...rule, overwrite: false, resumable: true })).toThrow('exists; continue it with --resume, replace it with --overwrite, or choose another path');
    expect(() => checkOutputs([at('old.npy'), at('new.npy')], rule)).not.toThrow();
  });

  it('takes a device such as /dev/null only where allowed, and never a directory as a file', () => {
    expect(() => checkOutputs(['/dev/null'], { ...rule, overwrite: false, allowSpecial: true })).not.toThrow();
    expect(() => checkOutputs(['/dev/null'], rule)).toThrow('--out /dev/null: is not a regular file (a device or pipe), and this command writes files beside its output; give a file path');
    expect(() => checkOutputs([dir], rule)).toThrow(`--out ${dir}: is a directory; give a file path`);
  });

  it('needs the directory to exist, except for a directory output, which is created', () => {
    const missing = at('no/such/file.tsv');
    expect(() => checkOutputs([missing], rule)).toThrow(`--out ${missing}: no such directory ${at('no/such')}`);
    expect(() => checkOutputs([at('no/such/dir')], { ...rule, directory: true })).not.toThrow();
    expect(() => checkOutputs([input], { ...rule, inputs: [], directory: true })).toThrow(`--out ${input}: exists and is not a directory`);
    expect(() => checkOutputs([path.join(input, 'x')], { ...rule, inputs: [], directory: true })).toThrow(`--out ${path.join(input, 'x')}: ${input} is not a directory`);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the content whole and leaves no temporary file', () => {
    const target = at('atomic/out.json');
    mkdirSync(path.dirname(target));
    writeFileAtomic(target, 'first');
    writeFileAtomic(target, new Uint8Array([0x7b, 0x7d]));
    expect(readFileSync(target, 'utf8')).toBe('{}');
    expect(readdirSync(path.dirname(target))).toEqual(['out.json']);
  });

  it('writes a device in place (no rename over it, no fsync error)', () => {
    const device = nullDevice(dir);
    expect(() => writeFileAtomic(device, 'discarded')).not.toThrow();
    expect(statSync(device).isCharacterDevice()).toBe(true);
  });
});
