/** Helpers shared by the bench scripts: statistics, load average, audio, peer child processes. */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const REFERENCE_ONCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

/** Outside the repository: the venv and the CTranslate2 weights made by bench/setup-peers.sh. */
export const BENCH_CACHE = process.env.FAIRSCRIBE_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'fairscribe');
export const VENV_PYTHON = path.join(BENCH_CACHE, 'pyref', 'bin', 'python');

/** The onnxruntime-node version this checkout runs (node_modules/onnxruntime-node/package.json). */
export function ortNodeVersion(): string {
  return JSON.parse(fs.readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')).version;
}

/**
 * The venv bench/setup-peers.sh makes with Python onnxruntime at exactly onnxruntime-node's version, so the
 * bare-onnxruntime limit runs the same kernels as our engine: the int8 MatMulInteger/DynamicQuantizeMatMul/
 * ConvInteger kernels changed speed between releases (the tiny.en encoder took 1.3x the CPU time on 1.25-1.32
 * as on 1.20-1.24 on this repository's 2-core AVX-512 VNNI machine), so a limit on another version measures
 * the version, not our engine.
 */
export function sameVersionPython(version = ortNodeVersion()): string {
  return path.join(BENCH_CACHE, `ort-${version}`, 'bin', 'python');
}

/** `onnxruntime.__version__` of a venv's python, or null when it cannot import onnxruntime. */
export function pythonOrtVersion(python: string): string | null {
  try {
    return execFileSync(python, ['-c', 'import onnxruntime; print(onnxruntime.__version__)'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * A benchmark's usage for `--help`: its file's header comment up to the first blank comment line (the command line
 * and what it does), without the comment markers.
 * @param file the benchmark's __filename
 */
export function usageFromHeader(file: string): string {
  const header = fs.readFileSync(file, 'utf8').split('\n *\n')[0];
  return header.replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, '');
}

/** p-th percentile (0–100), linear between order statistics (numpy's default); NaN for no values. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const k = ((s.length - 1) * p) / 100;
  const lo = Math.floor(k);
  return s[lo] + (s[Math.ceil(k)] - s[lo]) * (k - lo);
}

/** 1-minute load average (includes this benchmark's own threads). */
export function load1(): number {
  return os.loadavg()[0];
}

function cpuTimes(): { idle: number; total: number } | null {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return null; // not Linux
  }
}

/** Share of CPU time (all cores) that was idle over the next `ms` milliseconds, in %; 100 where unknown. */
export async function cpuIdlePercent(ms: number): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  if (!a || !b || b.total === a.total) return 100;
  return (100 * (b.idle - a.idle)) / (b.total - a.total);
}

/**
 * Waits (up to `maxMs`) until the machine was at least `minIdle` % idle over 2 s, so that a run does not start
 * while other processes' tests hold the cores.
 * @returns the idle share seen last and how long it waited
 */
export async function waitForIdle(minIdle: number, maxMs: number): Promise<{ idle: number; waitedMs: number }> {
  const t0 = performance.now();
  let idle = await cpuIdlePercent(2000);
  while (idle < minIdle && performance.now() - t0 < maxMs) idle = await cpuIdlePercent(2000);
  return { idle, waitedMs: performance.now() - t0 };
}

export function loadNow(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
}

/**
 * jfk.flac `times` times, concatenated and decoded once by ffmpeg to float32 16 kHz mono PCM.
 * @returns the raw little-endian f32 file (peers read it) and its samples
 */
export function preparePcm(jfk: string, times: number): { file: string; samples: Float32Array } {
  const file = path.join(os.tmpdir(), `fairscribe-bench-jfk${times}.f32`);
  const inputs = Array.from({ length: times }, () => ['-i', jfk]).flat();
  execFileSync('ffmpeg', [
    '-v', 'error', '-y', ...inputs,
    '-filter_complex', `concat=n=${times}:v=0:a=1`,
    '-ac', '1', '-ar', '16000', '-f', 'f32le', file,
  ]);
  const buf = fs.readFileSync(file);
  return { file, samples: new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice() };
}

export interface PeerRun {
  seconds?: number;
  text?: string;
  error?: string;
  [k: string]: unknown;
}

/**
 * A peer engine in its own process speaking bench/peers' line protocol: "@@{json}" lines on stdout,
 * "run" / "quit" on stdin. Other stdout/stderr lines are kept for error messages.
 */
export class PeerProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((m: PeerRun) => void)[] = [];
  private readonly queue: PeerRun[] = [];
  private readonly noise: string[] = [];
  private exited: string | null = null;

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const onLine = (line: string) => {
      if (line.startsWith('@@')) {
        const msg = JSON.parse(line.slice(2)) as PeerRun;
        const w = this.waiting.shift();
        if (w) w(msg);
        else this.queue.push(msg);
      } else if (line.trim()) {
        this.noise.push(line);
        if (this.noise.length > 20) this.noise.shift();
      }
    };
    readline.createInterface({ input: this.child.stdout }).on('line', onLine);
    readline.createInterface({ input: this.child.stderr }).on('line', (l) => l.trim() && this.noise.push(l));
    this.child.on('error', (err) => this.fail(`could not start ${cmd}: ${err.message}`));
    this.child.on('exit', (code, sig) => this.fail(`exited (${sig ?? code})`));
  }

  private fail(why: string) {
    if (this.exited) return;
    this.exited = why;
    const tail = this.noise.slice(-3).join(' | ').slice(0, 300);
    for (const w of this.waiting.splice(0)) w({ error: `${why}${tail ? `: ${tail}` : ''}` });
  }

  /** The next protocol message (ready or a run result), or an error if the process died. */
  next(timeoutMs = 600_000): Promise<PeerRun> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.exited) return Promise.resolve({ error: this.exited });
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ error: `no answer in ${timeoutMs / 1000} s` }), timeoutMs);
      this.waiting.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }

  run(): Promise<PeerRun> {
    if (this.exited) return Promise.resolve({ error: this.exited });
    this.child.stdin.write('run\n');
    return this.next();
  }

  /** Sends one request line of the peer's own protocol (e.g. faster_whisper_words.py "words PATH 1") and awaits its answer. */
  request(line: string): Promise<PeerRun> {
    if (this.exited) return Promise.resolve({ error: this.exited });
    this.child.stdin.write(`${line}\n`);
    return this.next();
  }

  /** Transcribes another raw float32 16 kHz mono file (peers that understand "file PATH"). */
  runFile(file: string): Promise<PeerRun> {
    if (this.exited) return Promise.resolve({ error: this.exited });
    this.child.stdin.write(`file ${file}\n`);
    return this.next();
  }

  async quit(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin.write('quit\n');
    const t = setTimeout(() => this.child.kill('SIGTERM'), 10_000);
    await done;
    clearTimeout(t);
  }
}

/** Parsed "B=1: encoder … ms (…/item), 60 decoder steps … ms (… ms/step), per-item total … ms, aggregate RTFx …". */
export interface OrtLimitLine {
  line: string;
  encoderMs: number;
  steps: number;
  decoderMs: number;
  stepMs: number;
  perItemMs: number;
  rtfx: number;
}

export function parseOrtLimitLine(line: string): OrtLimitLine | null {
  const m =
    /^B=1: encoder (\d+) ms \(\d+\/item\), (\d+) decoder steps (\d+) ms \(([\d.]+) ms\/step\), per-item total (\d+) ms, aggregate RTFx (\d+)/.exec(
      line,
    );
  if (!m) return null;
  return {
    line,
    encoderMs: +m[1],
    steps: +m[2],
    decoderMs: +m[3],
    stepMs: +m[4],
    perItemMs: +m[5],
    rtfx: +m[6],
  };
}

/**
 * Runs ../shared/tools/ort_limit.py with `python` (default: the peers' venv) until it has printed its B=1 line
 * (the larger batches are not needed here and would take a minute), then stops it.
 */
export function runOrtLimit(tool: string, modelDir: string, timeoutMs = 300_000, python = VENV_PYTHON): Promise<OrtLimitLine | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(python, [tool, modelDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const errTail: string[] = [];
    let settled = false;
    const settle = (r: OrtLimitLine | { error: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGTERM');
      resolve(r);
    };
    const timer = setTimeout(() => settle({ error: `no B=1 line in ${timeoutMs / 1000} s` }), timeoutMs);
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      const p = parseOrtLimitLine(l.trim());
      if (p) settle(p);
    });
    readline.createInterface({ input: child.stderr }).on('line', (l) => {
      errTail.push(l);
      if (errTail.length > 3) errTail.shift();
    });
    child.on('error', (err) => settle({ error: `could not start ${python}: ${err.message}` }));
    child.on('exit', (code) => settle({ error: `ort_limit.py exited ${code}: ${errTail.join(' | ').slice(0, 300)}` }));
  });
}

export function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function padStart(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

/**
 * Runs ../shared/tools/ort_limit.py to the end: the bare-onnxruntime aggregate RTFx at batch 1, 2, 4 and 8
 * (encoder + 60 greedy decoder steps per 30 s window, 2 threads).
 * @returns RTFx per batch size, or an error
 */
export function runOrtLimitBatches(tool: string, modelDir: string, timeoutMs = 600_000): Promise<Map<number, number> | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(VENV_PYTHON, [tool, modelDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const rtfx = new Map<number, number>();
    const errTail: string[] = [];
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      const m = /^B=(\d+):.*aggregate RTFx (\d+)/.exec(l.trim());
      if (m) rtfx.set(Number(m[1]), Number(m[2]));
    });
    readline.createInterface({ input: child.stderr }).on('line', (l) => {
      errTail.push(l);
      if (errTail.length > 3) errTail.shift();
    });
    child.on('error', (err) => resolve({ error: `could not start ${VENV_PYTHON}: ${err.message}` }));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(rtfx.size > 0 ? rtfx : { error: `ort_limit.py exited ${code}: ${errTail.join(' | ').slice(0, 300)}` });
    });
  });
}
