/**
 * `npm run -s bench:batch-independence [-- --models whisper-tiny.en,whisper-base --runs 5 --threads 2]`
 *
 * The choice behind the graphs CPU workers load (docs/models.md): the same engine (engine/node-loader.ts,
 * WhisperTranscriber.runWindows, the call engine/batcher.ts makes) on three graph sets of one model, in one run,
 * interleaved (round i runs every set once, rotating who goes first), median of N:
 *  - shipped: ../shared/models int8 as they are (DynamicQuantizeLinear, one activation scale per batched tensor);
 *  - per-row: infra/models/per_row_quant.py's int8 (per-token scales; per item before the convs);
 *  - fp32: infra/models/dequantize.py's float graphs (~/.cache/fairscribe/models-float), when present;
 *  - ct2-int8 / ct2-fp32: infra/models/ct2_graphs.py's graphs of the original CTranslate2 weights (per-channel int8,
 *    batched per tensor like `shipped`; fp32), when present (docs/models.md "Weights").
 * Workloads: one 30 s window (jfk) alone, and a batch of the model's maxBatch windows (config/models.json:
 * jfk, both channels of stereo_diarization.wav, repeated), greedy, English, no fallback, no word timestamps.
 * Then, per set: is jfk's window the same alone and beside 30 s of loud noise (tokens, sum log-prob)? and the text
 * of stereo_diarization's left channel alone (issue 19's "who advanished").
 * Ratios are time ratios against `shipped` (lower is faster). The machine's load average is printed beside them.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { SAMPLE_RATE } from '../engine/constants';
import { ct2Graphs, hasGraphs, perRowGraphs } from '../engine/precision';
import { loadWhisper } from '../engine/node-loader';
import type { WhisperTranscriber, WindowRequest } from '../engine/transcriber';
import { mulberry32 } from '../engine/prng';
import { load1, loadNow, median, pad, padStart } from './lib';

const AUDIO = path.resolve(__dirname, '../../shared/audio');
const MODELS = path.resolve(__dirname, '../../shared/models');
const REGISTRY = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../config/models.json'), 'utf8')) as { models: Record<string, { maxBatch: number }> };
const FLOAT_MODELS = process.env.FAIRSCRIBE_FLOAT_MODELS ?? path.join(process.env.FAIRSCRIBE_CACHE ?? path.join(os.homedir(), '.cache', 'fairscribe'), 'models-float');

function decode(file: string, channel?: 0 | 1): Float32Array {
  const pan = channel === undefined ? ['-ac', '1'] : ['-af', `pan=mono|c0=c${channel}`];
  const buf = execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(AUDIO, file), ...pan, '-ar', String(SAMPLE_RATE), '-f', 'f32le', '-'], { maxBuffer: 64 << 20 });
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

const req = (samples: Float32Array): WindowRequest => ({ samples, language: 'en', task: 'transcribe', fallback: false });

async function main() {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      runs: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
    },
  });
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  const jfk = decode('jfk.wav');
  const left = decode('stereo_diarization.wav', 0);
  const right = decode('stereo_diarization.wav', 1);
  const rand = mulberry32(1);
  const loud = Float32Array.from({ length: 30 * SAMPLE_RATE }, () => (rand() * 2 - 1) * 0.95);
  console.log(`bench:batch-independence — ${runs} interleaved runs, ${threads} threads; load ${loadNow()}`);

  for (const model of values.models!.split(',')) {
    const modelDir = path.join(MODELS, model);
    const maxBatch = REGISTRY.models[model]?.maxBatch ?? 1;
    const sets: { name: string; t: WhisperTranscriber }[] = [];
    sets.push({ name: 'shipped', t: await loadWhisper(modelDir, { threads, executionProvider: 'cpu', int8Activations: 'per-tensor' }) });
    const derived = perRowGraphs(modelDir);
    if ('missing' in derived) console.log(`  per-row graphs: ${derived.missing}`);
    else sets.push({ name: 'per-row', t: await loadWhisper(modelDir, { threads, executionProvider: 'cpu', int8Activations: 'per-row' }) });
    const floatDir = path.join(FLOAT_MODELS, model);
    if (hasGraphs(floatDir, 'fp32')) sets.push({ name: 'fp32', t: await loadWhisper(floatDir, { threads, executionProvider: 'cpu', precision: 'fp32' }) });
    else console.log(`  fp32: no float graphs in ${floatDir} (bash infra/models/float-models.sh ${model})`);
    for (const precision of ['int8', 'fp32'] as const) {
      const rebuilt = ct2Graphs(modelDir, precision);
      if ('missing' in rebuilt) console.log(`  ct2-${precision}: ${rebuilt.missing}`);
      // int8: batched as configured ('per-tensor'), to time it; its activations are per tensor like the shipped ones
      else sets.push({ name: `ct2-${precision}`, t: await loadWhisper(modelDir, { threads, executionProvider: 'cpu', weights: 'ct2', precision, int8Activations: 'per-tensor' }) });
    }

    const pool = [jfk, left, right];
    const batch = Array.from({ length: maxBatch }, (_, i) => req(pool[i % pool.length]));
    const workloads = [
      { name: 'batch 1 (jfk)', reqs: [req(jfk)] },
      ...(maxBatch > 1 ? [{ name: `batch ${maxBatch}`, reqs: batch }] : []),
    ];
    const times = new Map<string, number[]>();
    const loads: number[] = [];
    for (const s of sets) for (const w of workloads) await s.t.runWindows(w.reqs); // warm-up
    for (let r = 0; r < runs; r++) {
      loads.push(load1());
      for (let k = 0; k < sets.length; k++) {
        const s = sets[(r + k) % sets.length];
        for (const w of workloads) {
          const t0 = performance.now();
          await s.t.runWindows(w.reqs);
          const key = `${s.name}\0${w.name}`;
          times.set(key, [...(times.get(key) ?? []), (performance.now() - t0) / 1000]);
        }
      }
    }
    console.log(`\n${model} (maxBatch ${maxBatch}); load average during runs ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} on ${os.cpus().length} cores`);
    console.log(`  ${pad('graphs', 9)} ${workloads.map((w) => `${padStart(w.name, 16)} ${padStart('÷ shipped', 9)}`).join(' ')}`);
    for (const s of sets) {
      const cells = workloads.map((w) => {
        const m = median(times.get(`${s.name}\0${w.name}`)!);
        const base = median(times.get(`shipped\0${w.name}`)!);
        return `${padStart(`${m.toFixed(3)} s`, 16)} ${padStart(`${(m / base).toFixed(2)}×`, 9)}`;
      });
      console.log(`  ${pad(s.name, 9)} ${cells.join(' ')}`);
    }
    console.log('  same window alone and beside loud noise (tokens; |Δ sum log-prob|) | stereo left alone:');
    for (const s of sets) {
      const [alone] = await s.t.runWindows([req(jfk)]);
      const [beside] = await s.t.runWindows([req(jfk), req(loud)]);
      const same = JSON.stringify(alone.tokens) === JSON.stringify(beside.tokens);
      const r = await s.t.transcribe(left, { language: 'en', task: 'transcribe', fallback: false });
      const text = r.segments.map((x) => x.text).join(' ').trim();
      console.log(`  ${pad(s.name, 9)} ${same ? 'same tokens' : 'DIFFERENT tokens'}; ${Math.abs(alone.sumLogprob - beside.sumLogprob).toExponential(1)} | ${text}`);
    }
    for (const s of sets) await s.t.model.release();
  }
  console.log(`\nload at end ${loadNow()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
