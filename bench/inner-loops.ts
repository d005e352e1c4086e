/**
 * Instructions per multiply-add of the integer GEMM kernels' inner loops, counted in the built addon: the int8 paths
 * (AVX-512 VNNI vpdpbusd, AVX2 vpmaddwd) against the table-lookup GEMM (AVX-512 VBMI vpermb, AVX2 vpshufb) per
 * activation width. Hardware counters (perf stat) are not available everywhere (not in containers without PMU
 * access), so this reads the machine code instead: it disassembles each kernel with objdump, takes its innermost
 * loop with the most instructions of the kernel's kind (a backward conditional branch whose body holds no other),
 * and prints the loop's instruction mix and multiply-adds per iteration. Each iteration's multiply-adds follow from
 * the kernel's structure (named per row below). The issue rate of each kind on this core is `bench kernels`'s; how the
 * two combine into the bound and what the whole kernels reach: docs/benchmarks.md, "Instructions per multiply-add".
 *
 *   npm run bench -- inner-loops [--addon build/Release/arq.node]
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { addon: { type: 'string', default: 'build/Release/arq.node' } } });

interface Kernel {
  readonly label: string;
  /** A substring of the kernel function's mangled name (the first symbol that has it). */
  readonly symbol: string;
  /** The instruction that does the multiply-adds (or the lookups). */
  readonly key: string;
  /** Multiply-adds per iteration, from the key instruction count of the loop. */
  readonly macs: (keys: number) => number;
  readonly why: string;
}

const KERNELS: readonly Kernel[] = [
  { label: 'int8 VNNI gemm 8x32c4', symbol: 'qu8_qs8_gemm_ukernel_8x32c4__avx512vnni', key: 'vpdpbusd', macs: (n) => 64 * n, why: '64 u8 x s8 per vpdpbusd (16 lanes x 4 k)' },
  { label: 'int8 VNNI igemm 8x32c4', symbol: 'qu8_qs8_igemm_ukernel_8x32c4__avx512vnni', key: 'vpdpbusd', macs: (n) => 64 * n, why: 'the same, rows through pointers (3x3 convs)' },
  { label: 'int8 AVX2 6x8c4', symbol: 'gemm_rowsILm6E', key: 'vpmaddwd', macs: (n) => 16 * n, why: '16 s16 x s16 per vpmaddwd (8 lanes x 2 k), A and W widened first' },
  ...[1, 2, 3, 4].map((p) => ({ label: `lookup VBMI, A${p} (any W 2..4)`, symbol: `VbmiEE3runILi${p}E`, key: 'vpermb', macs: () => 64 * 6 * 4, why: `64 rows x 6 k x 4 columns per group, ${p} vpermb per column` })),
  ...[1, 2, 3, 4].map((p) => ({ label: `lookup AVX2, A${p} (any W 2..4)`, symbol: `Avx2EE3runILi${p}E`, key: 'vpshufb', macs: () => 32 * 4 * 4, why: `32 rows x 4 k x 4 columns per group, ${p} vpshufb per column` })),
];

interface Instruction {
  readonly address: number;
  readonly op: string;
  /** A direct branch's target, if any. */
  readonly target?: number;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  } catch (error) {
    throw new Error(`${command} ${args.join(' ')} failed (binutils installed? the addon built?): ${(error as Error).message}`);
  }
}

const symbols = run('nm', ['-S', '--defined-only', values.addon]).split('\n').map((line) => line.trim().split(/\s+/)).filter((f) => f.length === 4);

function disassemble(symbol: string): { name: string; code: Instruction[] } {
  const found = symbols.find((f) => f[3].includes(symbol) && Number.parseInt(f[1], 16) > 0);
  if (!found) throw new Error(`no symbol containing '${symbol}' in ${values.addon}`);
  const start = Number.parseInt(found[0], 16);
  const end = start + Number.parseInt(found[1], 16);
  const text = run('objdump', ['-d', '--no-show-raw-insn', `--start-address=${start}`, `--stop-address=${end}`, values.addon]);
  const code: Instruction[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s+([0-9a-f]+):\s+(\S+)\s*([0-9a-f]+)?/.exec(line);
    if (!m) continue;
    const target = m[2].startsWith('j') && m[3] !== undefined ? Number.parseInt(m[3], 16) : undefined;
    code.push({ address: Number.parseInt(m[1], 16), op: m[2], target });
  }
  return { name: found[3], code };
}

const isBackward = (x: Instruction) => x.op !== 'jmp' && x.target !== undefined && x.target < x.address;

/** The innermost loop (no backward branch inside but its own) with the most `key` instructions, fewest in all. */
function hottestLoop(code: Instruction[], key: string): Instruction[] | undefined {
  let best: Instruction[] | undefined;
  let bestKeys = 0;
  for (const branch of code.filter(isBackward)) {
    const body = code.filter((x) => x.address >= branch.target! && x.address <= branch.address);
    if (body.slice(0, -1).some((x) => isBackward(x) && x.target! >= branch.target!)) continue;
    const keys = body.filter((x) => x.op === key).length;
    if (keys > bestKeys || (keys === bestKeys && keys > 0 && body.length < best!.length)) [best, bestKeys] = [body, keys];
  }
  return best;
}

/** Mnemonic classes of a loop body: the key, other vector (v...), loads folded into them are not separate. */
function mix(body: Instruction[], key: string): string {
  const counts = new Map<string, number>();
  for (const x of body) counts.set(x.op, (counts.get(x.op) ?? 0) + 1);
  return [...counts].sort((a, b) => (a[0] === key ? -1 : b[0] === key ? 1 : b[1] - a[1])).map(([op, n]) => `${n} ${op}`).join(', ');
}

console.log(`${values.addon}: the hottest innermost loop of each kernel (static counts per iteration)`);
console.log(['kernel', 'instructions', `key`, 'vector', 'MACs', 'instr / 64 MAC', 'key / 64 MAC', 'mix', 'MACs per iteration'].join('\t'));
for (const kernel of KERNELS) {
  const { code } = disassemble(kernel.symbol);
  const loop = hottestLoop(code, kernel.key);
  if (!loop) {
    console.log(`${kernel.label}\tno loop with ${kernel.key}`);
    continue;
  }
  const keys = loop.filter((x) => x.op === kernel.key).length;
  const vector = loop.filter((x) => x.op.startsWith('v')).length;
  const macs = kernel.macs(keys);
  const per64 = (n: number) => ((64 * n) / macs).toFixed(3);
  console.log([kernel.label, loop.length, `${keys} ${kernel.key}`, vector, macs, per64(loop.length), per64(keys), mix(loop, kernel.key), kernel.why].join('\t'));
}
