/**
 * `npm run -s bench:batch [-- --models whisper-tiny.en,whisper-base --batches 1,2,4,8 --rounds 3 --threads 2]`
 *
 * Batch scaling of the real inference path: 8 concurrent 30 s chunks (jfk.flac ×3, eight different offsets)
 * through EngineClient → engine thread → DynamicBatcher (maxWaitMs 50), one child process per model and
 * maxBatch (bench/batch-worker.ts), so each has its own onnxruntime threads and its own peak RSS. Per config,
 * median of `rounds` timed rounds after a warm-up: aggregate throughput (audio s / wall s), its gain over
 * maxBatch 1, the worst event-loop lag of the worker's main thread (where activities heartbeat and poll),
 * and peak RSS. Beside it, ../shared/tools/ort_limit.py's bare-onnxruntime gain at the same batch size
 * (encoder + 60 greedy steps on random features) and our share of that gain.
 * Levers, same run: onnxruntime's intra-op spinning off (`session.intra_op.allow_spinning` = "0") at the
 * largest batch of the first model; greedyPick's softmax normaliser exact vs skipping terms below e^-30 (micro-benchmark).
 * The 1-minute load average is printed with every row (the machine is shared).
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { mulberry32 } from '../engine/prng';
import { VENV_PYTHON, load1, loadNow, median, pad, padStart, preparePcm, runOrtLimitBatches } from './lib';
import * as fs from 'node:fs';

const ROOT = path.resolve(__dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');
const ORT_LIMIT = path.resolve(ROOT, '../shared/tools/ort_limit.py');

interface WorkerResult {
  rounds: { seconds: number; batchSizes: number[]; maxLagMs: number }[];
  maxRssMB: number;
  audioSeconds: number;
  text: string;
  error?: string;
}

function runWorker(opts: Record<string, unknown>): Promise<WorkerResult> {
  return new Promise((resolve) => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(__dirname, 'batch-worker.ts'), JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let result: WorkerResult | null = null;
    const err: string[] = [];
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      if (l.startsWith('@@')) result = JSON.parse(l.slice(2)) as WorkerResult;
    });
    readline.createInterface({ input: child.stderr }).on('line', (l) => err.push(l));
    child.on('exit', (code) => resolve(result ?? ({ error: `exited ${code}: ${err.slice(-3).join(' | ')}` } as WorkerResult)));
  });
}

/** greedyPick's normaliser, exact (one exp per token) and skipping terms below e^-30, on logits shaped like Whisper's. */
function greedyPickMicrobench(): string {
  const V = 51864;
  const rand = mulberry32(1);
  const rows = Array.from({ length: 16 }, () => {
    const r = new Float32Array(V);
    for (let i = 0; i < V; i++) r[i] = (rand() + rand() + rand() - 1.5) * 8; // spread like real logits (≈ ±12)
    for (let i = 50257; i < V; i += 1) if (rand() < 0.9) r[i] = -Infinity; // suppressed / ruled-out tokens
    r[Math.floor(rand() * 50000)] = 20;
    return r;
  });
  const exact = (l: Float32Array) => {
    let max = -Infinity;
    for (let i = 0; i < l.length; i++) if (l[i] > max) max = l[i];
    let s = 0;
    for (let i = 0; i < l.length; i++) s += Math.exp(l[i] - max);
    return -Math.log(s);
  };
  const skip = (l: Float32Array) => {
    let max = -Infinity;
    for (let i = 0; i < l.length; i++) if (l[i] > max) max = l[i];
    const floor = max - 30;
    let s = 0;
    for (let i = 0; i < l.length; i++) if (l[i] > floor) s += Math.exp(l[i] - max);
    return -Math.log(s);
  };
  const time = (f: (l: Float32Array) => number) => {
    const ts: number[] = [];
    let sink = 0;
    for (let rep = 0; rep < 7; rep++) {
      const t0 = performance.now();
      for (let k = 0; k < 50; k++) for (const r of rows) sink += f(r);
      ts.push((performance.now() - t0) / (50 * rows.length));
    }
    if (sink === 42) console.log('');
    return median(ts);
  };
  const a = time(exact);
  const b = time(skip);
  const err = Math.max(...rows.map((r) => Math.abs(exact(r) - skip(r))));
  return `greedyPick normaliser per row: exact ${(a * 1000).toFixed(0)} µs, skip < e^-30 ${(b * 1000).toFixed(0)} µs (${(b / a).toFixed(2)}×), max |Δ logprob| ${err.toExponential(1)}`;
}

async function main() {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      batches: { type: 'string', default: '1,2,4,8' },
      rounds: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      'skip-ort-limit': { type: 'boolean', default: false },
    },
  });
  const batches = values.batches!.split(',').map(Number);
  const rounds = Number(values.rounds);
  const threads = Number(values.threads);
  const pcm = preparePcm(path.resolve(ROOT, '../shared/audio/jfk.flac'), 3);
  console.log(`bench:batch — 8 concurrent 30 s chunks per round, ${rounds} rounds per config after a warm-up, ${threads} threads; load ${loadNow()}`);
  console.log(greedyPickMicrobench());
  for (const model of values.models!.split(',')) {
    const modelDir = path.join(MODELS, model);
    let limit: Map<number, number> | { error: string } = { error: 'skipped' };
    if (!values['skip-ort-limit']) {
      limit = fs.existsSync(VENV_PYTHON) ? await runOrtLimitBatches(ORT_LIMIT, modelDir) : { error: 'no venv (bash bench/setup-peers.sh)' };
    }
    const limitGain = (b: number) => (limit instanceof Map && limit.get(1) && limit.get(b) ? limit.get(b)! / limit.get(1)! : NaN);
    console.log(`\n${model}${limit instanceof Map ? `; ort_limit.py RTFx ${[...limit].map(([b, x]) => `B${b} ${x}`).join(', ')}` : ` (ort_limit.py: ${limit.error})`}`);
    console.log(
      `  ${pad('config', 22)} ${padStart('wall s', 7)} ${padStart('audio s/s', 9)} ${padStart('gain', 6)} ${padStart('ORT gain', 8)} ${padStart('share', 6)} ${padStart('lag ms', 7)} ${padStart('RSS MB', 7)} ${padStart('load', 5)}  batches`,
    );
    let base = NaN;
    // The spinning lever at the largest batch, on the first model only (time: the machine is shared).
    const lever = model === values.models!.split(',')[0] ? [{ b: batches[batches.length - 1], spin: false }] : [];
    const configs = [...batches.map((b) => ({ b, spin: true })), ...lever];
    for (const { b, spin } of configs) {
      const load = load1();
      const r = await runWorker({ modelDir, pcm: pcm.file, maxBatch: b, rounds, threads, allowSpinning: spin });
      const label = `maxBatch ${b}${spin ? '' : ', spinning off'}`;
      if (r.error) {
        console.log(`  ${pad(label, 22)} error: ${r.error}`);
        continue;
      }
      const wall = median(r.rounds.map((x) => x.seconds));
      const tput = r.audioSeconds / wall;
      if (b === 1 && spin) base = tput;
      const gain = tput / base;
      const og = limitGain(b);
      const lag = Math.max(...r.rounds.map((x) => x.maxLagMs));
      const sizes = [...new Set(r.rounds.flatMap((x) => x.batchSizes))].sort((x, y) => y - x).join('/');
      console.log(
        `  ${pad(label, 22)} ${padStart(wall.toFixed(2), 7)} ${padStart(tput.toFixed(1), 9)} ${padStart(`${gain.toFixed(2)}×`, 6)} ${padStart(Number.isNaN(og) ? '—' : `${og.toFixed(2)}×`, 8)} ${padStart(Number.isNaN(og) ? '—' : `${Math.round((100 * (gain - 1)) / Math.max(1e-9, og - 1))}%`, 6)} ${padStart(lag.toFixed(1), 7)} ${padStart(r.maxRssMB.toFixed(0), 7)} ${padStart(load.toFixed(1), 5)}  ${sizes}`,
      );
    }
  }
  console.log(`\nshare = (our gain − 1) / (ORT gain − 1); lag = worst event-loop delay of the worker's main thread over the timed rounds; load ${loadNow()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
