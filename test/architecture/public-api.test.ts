// The public API of src/index.ts, pinned: API Extractor's report of the declarations tsc emits for src/ must equal
// the committed docs/api/arq.api.md, so any change to what a library user sees is a reviewed diff of that file.
import path from 'node:path';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import ts from 'typescript';
import { expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** api-extractor.json reads the declarations from here and writes a changed report beside them. */
const OUT = path.join(ROOT, 'build/api');

function emitDeclarations(): void {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.json'), {
    emitDeclarationOnly: true, declarationMap: false, sourceMap: false, outDir: path.join(OUT, 'dts'),
  }, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (!parsed) throw new Error('tsconfig.json: cannot be read');
  const { diagnostics } = ts.createProgram(parsed.fileNames, parsed.options).emit();
  if (diagnostics.length > 0) throw new Error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' }));
}

it('the public API equals docs/api/arq.api.md', () => {
  emitDeclarations();
  const result = Extractor.invoke(ExtractorConfig.loadFileAndPrepare(path.join(ROOT, 'api-extractor.json')), {
    localBuild: false,
    messageCallback: (message) => { message.handled = true; },
  });
  expect(result.errorCount, 'API Extractor could not analyse the emitted declarations').toBe(0);
  expect(result.apiReportChanged, [
    'the public API of src/index.ts changed: compare build/api/arq.api.md with docs/api/arq.api.md;',
    'if the change is intended, run `npm run api:update` and commit docs/api/arq.api.md',
  ].join(' ')).toBe(false);
}, 300_000);
