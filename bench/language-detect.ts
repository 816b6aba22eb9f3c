/**
 * Language identification of whisper-base (issue #17 "keeps each language"): ours against faster-whisper 1.1.0 and
 * openai/whisper's rule on the same weights, on short (2–4 s) and medium (8–15 s) espeak-ng speech in seven languages
 * and the real recordings of ../shared/audio, clean, telephone-band and after/under pink noise
 * (bench/language-set.ts). Outside CI; the peer needs `bash bench/setup-peers.sh`:
 *   npx tsx bench/language-detect.ts [--dir DIR] [--no-peer] [--peer-json FILE] [--threads 2] [--fp32] [--per-row] [--int8] [--fp32-encoder]
 * Runs (one column each):
 *  - ours:      WhisperTranscriber.detectLanguage(samples) (engine/transcriber.ts, the routing step's call) on the
 *               model's default CPU graphs (config/models.json: int8 until 2026-12-07, fp32-encoder since): the
 *               first 30 s of the clip as it is, noise included;
 *  - ours-fp32 (--fp32): `ours` on the shipped weights dequantised to fp32 (WHISPER_CPU_PRECISION=fp32): int8 effects;
 *  - ours-per-row (--per-row): `ours` on the shipped weights with per-token activation scales
 *               (infra/models/per-row-models.sh; engine/node-loader.ts `int8Activations: 'per-row'`);
 *  - ours-fp32-encoder (--fp32-encoder): `ours` on the fp32 encoder with the shipped int8 decoder
 *               (WHISPER_CPU_PRECISION=fp32-encoder);
 *  - ours-int8 (--int8): `ours` on the shipped int8 graphs as shipped, whatever the CPU default is;
 *  - ours-vad:  the service's path: Silero VAD (audio/vad-client.ts) → chunk plan (audio/speech-spans.ts) → the first
 *               chunk's speech laid end to end → detectLanguage (activities/inference.ts detectLanguage, and
 *               transcribeChunk's per-window detection, read the same chunk audio);
 *  - fw, fw-vad, openai, fw-fp32: bench/peers/faster_whisper_langdetect.py (faster-whisper `detect_language` without
 *               and with its VAD filter; openai/whisper's rule on the CT2 weights; faster-whisper on float32).
 * Prints one line per clip, then per condition a table of right/total per language, and the non-speech probes
 * (pink noise, brown noise, tones: what detection says on no speech; the service never detects there) with the
 * lowest probability when right / highest when wrong on speech (the measurement behind LANGUAGE_SURE_PROBABILITY,
 * common/window-languages.ts).
 *
 * Measured 2026-12-07 (`--fp32 --peer-json`, 2 threads, load 4–20 from other sessions; right of 138 clips):
 * ours 81, ours-vad 80, ours-fp32 87; faster-whisper 85 (with VAD 84, float32 87); openai/whisper's rule on the
 * CT2 int8 weights 88. Our rule is openai's (audio zero-padded to 30 s before the log-mel; faster-whisper pads
 * the log-mel with 0.0 instead, which scores 3 fewer on the same weights); what we lose is the shipped int8
 * graphs' activation quantisation (the same weights dequantised to fp32 gain 6, mostly on 2–4 s es/de/it clips).
 * espeak-ng's nl and pt voices are read as en/de/la/hu/th by every engine at every precision (0–2 of 18).
 * 2026-12-07 (`--fp32-encoder --no-peer`, load 17–30; ours then on int8): ours 80, ours-fp32-encoder 88 (telephone
 * band 24 -> 28 of 46), detection time 1.46x: fp32-encoder became the default (docs/models.md "Which graphs each
 * model runs"), so `ours` now measures it; `--int8` adds the shipped graphs' column.
 * 2026-12-07, the same clips for every column (the set is repeatable since sox -R; `--int8`, peer beside it, load
 * 10–20): ours (fp32-encoder) 86, ours-vad 86, ours-int8 76; faster-whisper 86, with VAD 85, openai's rule 86,
 * float32 86 (docs/models.md "The decoding window's padding, and languages per stretch").
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadWhisper } from '../engine/node-loader';
import { defaultCpuPrecision, perRowGraphs } from '../engine/precision';
import { chunkAudio, planSpeechChunks } from '../audio/speech-spans';
import { detectSpeech, VadThread } from '../audio/vad-client';
import { buildLanguageSet, CONDITIONS, readPcm, SR, TEXTS, type Clip } from './language-set';
import { BENCH_CACHE, VENV_PYTHON, loadNow } from './lib';

const MODELS = process.env.WHISPER_MODELS_DIR ?? path.resolve(__dirname, '../../shared/models');
const AUDIO = path.resolve(__dirname, '../../shared/audio');
const PEER = path.resolve(__dirname, 'peers/faster_whisper_langdetect.py');

type Detection = [language: string, probability: number];

async function* blocksOf(samples: Float32Array): AsyncGenerator<Float32Array> {
  yield samples.slice();
}

function peerRuns(dir: string, threads: number, file: string | undefined): Map<string, Record<string, Detection>> {
  const out = file
    ? fs.readFileSync(file, 'utf8')
    : execFileSync(VENV_PYTHON, [PEER, path.join(BENCH_CACHE, 'ct2', 'whisper-base'), dir, String(threads)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const runs = new Map<string, Record<string, Detection>>();
  for (const line of out.trim().split('\n')) {
    const r = JSON.parse(line) as { file: string; runs: Record<string, Detection> };
    runs.set(r.file, r.runs);
  }
  return runs;
}

async function main() {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: path.join(os.tmpdir(), 'fairscribe-langset') },
      'no-peer': { type: 'boolean', default: false },
      'peer-json': { type: 'string' },
      threads: { type: 'string', default: '2' },
      /** also ours on the shipped weights dequantised to fp32 (WHISPER_CPU_PRECISION=fp32): int8 effects */
      fp32: { type: 'boolean', default: false },
      /** also ours on the per-token int8 graphs (int8Activations 'per-row') */
      'per-row': { type: 'boolean', default: false },
      /** also ours on the shipped int8 graphs (cpuPrecision 'int8', one window per run) */
      int8: { type: 'boolean', default: false },
      /** also ours on the fp32 encoder + shipped int8 decoder (WHISPER_CPU_PRECISION=fp32-encoder) */
      'fp32-encoder': { type: 'boolean', default: false },
    },
  });
  const dir = values.dir!;
  const threads = Number(values.threads);
  console.log(`language-detect: whisper-base, ${threads} threads, ours on ${process.env.WHISPER_CPU_PRECISION ?? defaultCpuPrecision(path.join(MODELS, 'whisper-base'))}; set ${dir}; load ${loadNow()}`);
  const clips = buildLanguageSet(dir, AUDIO);
  const engine = await loadWhisper(path.join(MODELS, 'whisper-base'), { threads, executionProvider: 'cpu' });
  const modelDir = path.join(MODELS, 'whisper-base');
  const perRowFound = perRowGraphs(modelDir);
  // without batching loadWhisper would quietly run the shipped graphs in their place
  if (values['per-row'] && 'missing' in perRowFound) throw new Error(`--per-row: ${perRowFound.missing}`);
  const perRow = values['per-row'] ? await loadWhisper(modelDir, { threads, executionProvider: 'cpu', cpuPrecision: 'int8', int8Activations: 'per-row' }) : null;
  const int8 = values.int8 ? await loadWhisper(modelDir, { threads, executionProvider: 'cpu', cpuPrecision: 'int8' }) : null;
  const fp32Encoder = values['fp32-encoder'] ? await loadWhisper(modelDir, { threads, executionProvider: 'cpu', cpuPrecision: 'fp32-encoder', warn: console.warn }) : null;
  const fp32 = values.fp32 ? await loadWhisper(path.join(MODELS, 'whisper-base'), { threads, executionProvider: 'cpu', cpuPrecision: 'fp32', warn: console.warn }) : null;
  const results = new Map<string, Record<string, Detection>>();
  /** summed detectLanguage seconds per run (interleaved clip by clip, so the runs share the load) */
  const seconds: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    seconds[name] = (seconds[name] ?? 0) + (performance.now() - t0) / 1000;
    return r;
  };
  for (const c of clips) {
    const samples = readPcm(path.join(dir, c.file));
    const runs: Record<string, Detection> = {};
    const raw = await timed('ours', () => engine.detectLanguage(samples));
    runs.ours = [raw.language, raw.probability];
    const vad = await detectSpeech(blocksOf(samples));
    const { chunks } = planSpeechChunks(vad.probs, vad.samples);
    if (chunks.length > 0) {
      const speech = chunkAudio(chunks[0], (a, b) => samples.slice(Math.round(a * SR), Math.round(b * SR)));
      const d = await engine.detectLanguage(speech);
      runs['ours-vad'] = [d.language, d.probability];
    } else runs['ours-vad'] = ['(no speech)', 0];
    // the other graph sets asked for, each its own column
    for (const [column, engine] of [['ours-fp32', fp32], ['ours-per-row', perRow], ['ours-fp32-encoder', fp32Encoder], ['ours-int8', int8]] as const) {
      if (!engine) continue;
      const d = await timed(column, () => engine.detectLanguage(samples));
      runs[column] = [d.language, d.probability];
    }
    results.set(c.file, runs);
  }
  const peer = values['no-peer'] ? new Map<string, Record<string, Detection>>() : peerRuns(dir, threads, values['peer-json']);
  for (const [file, runs] of peer) Object.assign(results.get(file) ?? {}, runs);
  // a --peer-json written while the peer was still running lacks the last clips: every missing clip would count as wrong
  const missing = values['no-peer'] ? [] : clips.filter((c) => !peer.has(c.file));
  if (missing.length > 0) throw new Error(`peer: ${missing.length} of ${clips.length} clips missing (first ${missing[0].file}); is ${values['peer-json'] ?? 'the peer run'} complete?`);
  const names = [...new Set([...results.values()].flatMap((r) => Object.keys(r)))];

  for (const c of clips) {
    const r = results.get(c.file)!;
    const cells = names.map((n) => (r[n] ? `${r[n][0] === c.language ? ' ' : '✗'}${r[n][0].padEnd(3)}${r[n][1].toFixed(2)}` : '     —    '));
    console.log(`${c.file.padEnd(24)} ${c.language} ${c.seconds.toFixed(1).padStart(5)} s  ${cells.join(' ')}`);
  }

  // right / total per language and condition, per run
  const langs = [...Object.keys(TEXTS)];
  const cell = (subset: Clip[], n: string) => {
    const right = subset.filter((c) => results.get(c.file)![n]?.[0] === c.language).length;
    return `${right}/${subset.length}`.padStart(6);
  };
  console.log(`\nright / clips (espeak-ng short+medium; en also the 4 real recordings). Runs: ${names.join(', ')}`);
  for (const cond of [...CONDITIONS, 'all'] as const) {
    const inCond = clips.filter((c) => cond === 'all' || c.condition === cond);
    console.log(`\n${cond}`);
    console.log(`  ${'run'.padEnd(17)} ${langs.map((l) => l.padStart(6)).join('')} ${'short'.padStart(7)} ${'medium'.padStart(7)} ${'real'.padStart(6)} ${'total'.padStart(8)}`);
    for (const n of names) {
      const per = langs.map((l) => cell(inCond.filter((c) => c.language === l), n)).join('');
      const by = (len: Clip['length']) => cell(inCond.filter((c) => c.length === len), n);
      console.log(`  ${n.padEnd(17)} ${per} ${by('short').padStart(7)} ${by('medium').padStart(7)} ${by('real')} ${cell(inCond, n).padStart(8)}`);
    }
  }

  // Probabilities on speech (the sure-threshold measurement) and on non-speech.
  for (const n of ['ours', 'ours-vad']) {
    const rows = clips.map((c) => ({ c, d: results.get(c.file)![n] })).filter((x) => x.d);
    const right = rows.filter((x) => x.d[0] === x.c.language).map((x) => x.d[1]);
    const wrong = rows.filter((x) => x.d[0] !== x.c.language).map((x) => x.d[1]);
    console.log(`\n${n}: lowest probability when right ${Math.min(...right).toFixed(3)}; highest when wrong ${wrong.length ? Math.max(...wrong).toFixed(3) : 'none'}; wrong ≥ 0.5: ${wrong.filter((p) => p >= 0.5).length} of ${wrong.length}`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-langdet-'));
  const probes: string[] = [];
  for (const [name, synth] of [['pink noise', ['pinknoise']], ['brown noise', ['brownnoise']], ['tones', ['sine', '440', 'sine', '660']]] as const) {
    const f = path.join(tmp, `${name.replace(' ', '-')}.wav`);
    execFileSync('sox', ['-n', '-r', String(SR), '-c', '1', '-b', '16', f, 'synth', '20', ...synth, 'vol', '0.3']);
    const d = await engine.detectLanguage(readPcm(f));
    probes.push(`${name} → ${d.language} ${d.probability.toFixed(3)}`);
  }
  console.log(`non-speech (ours, no VAD): ${probes.join(', ')}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  await engine.model.release();
  await fp32?.model.release();
  await perRow?.model.release();
  await int8?.model.release();
  await fp32Encoder?.model.release();
  console.log(`detectLanguage seconds over ${clips.length} clips (2–30 s each, interleaved): ${Object.entries(seconds).map(([n, x]) => `${n} ${x.toFixed(1)}`).join(', ')}`);
  await VadThread.closeShared();
  console.log(`load at the end ${loadNow()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
