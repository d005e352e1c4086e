/**
 * The files a training run writes, checked before the run starts: every one must be creatable (its folder exists
 * and is writable, it is not a folder) and none may be one of the run's inputs, so that no run fails, or destroys
 * its own model, after training. (A minimal local rule; the CLI's shared output-file rule will replace it.)
 */
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { ArqError } from '../util/errors.js';

const canonical = (file: string): string => {
  const absolute = path.resolve(file);
  return existsSync(absolute) ? realpathSync(absolute) : path.join(realpathSync.native(path.dirname(absolute)), path.basename(absolute));
};

/** Throws an ArqError naming `flag` and the file unless each of `outputs` can be written without touching `inputs`. */
export function checkOutputFiles(flag: string, outputs: readonly string[], inputs: readonly string[]): void {
  const taken = new Set(inputs.filter((file) => existsSync(file)).map(canonical));
  for (const file of outputs) {
    const folder = path.dirname(path.resolve(file));
    if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new ArqError(`${flag}: cannot write ${file}: the folder ${folder} does not exist`);
    try {
      accessSync(folder, constants.W_OK);
      if (existsSync(file)) accessSync(file, constants.W_OK);
    } catch {
      throw new ArqError(`${flag}: cannot write ${file}: permission denied`);
    }
    if (existsSync(file) && statSync(file).isDirectory()) throw new ArqError(`${flag}: ${file} is a folder`);
    if (taken.has(canonical(file))) throw new ArqError(`${flag}: ${file} is also an input of this run; write the result to another file`);
  }
}

/** OUT.json beside OUT (`.onnx` replaced). */
export function sidecarPath(out: string, suffix = '.json'): string {
  return `${out.endsWith('.onnx') ? out.slice(0, -5) : out}${suffix}`;
}
