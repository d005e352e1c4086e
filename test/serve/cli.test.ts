// `arq serve` as a user runs it: the launcher bin/arq.js (it runs the compiled dist/, so `npx tsc` first).
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'bin/arq.js');
const model = path.join(root, 'models/mnist-cnn-s025.onnx');

describe('arq serve (command line)', () => {
  test('listens on the given loopback port, answers, and exits 0 on SIGTERM after closing', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--model', model, '--sigma', '0.25', '--port', '0', '--threads', '2'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const found = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (found) resolve(found[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
    });
    const reply = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: new Array(784).fill(0), n: 100 }) });
    expect(reply.status).toBe(200);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('closing');
  });

  test.each([
    [['--engine', 'int', '--bits', 'w8a8'], '--engine int needs --calibration-data'],
    [['--bits', 'w8a8'], '--policy and --bits apply to --engine int'],
    [['--port', '70000'], '--port: expected an integer in [0, 65535], got 70000'],
  ])('refuses %j with a one-line error', async (flags, message) => {
    const failed = await promisify(execFile)(cli, ['serve', '--model', model, '--sigma', '0.25', ...flags], { cwd: root }).then(() => null, (error: { code: number; stderr: string }) => error);
    expect(failed?.code).toBe(1);
    const lines = failed!.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0].startsWith(`arq: ${message}`)).toBe(true);
  });
});
