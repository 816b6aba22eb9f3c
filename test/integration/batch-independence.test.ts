/**
 * A window's text does not depend on the windows batched with it. engine/batcher.ts puts windows of different
 * jobs (and tenants) into one encoder run and one batched decode; the shipped int8 graphs quantise activations
 * with one scale per batched tensor (DynamicQuantizeLinear), so a loud batchmate changed another user's words
 * (CI: "drove to the beach on Saturday" vs "drove to Mebichonsatone"). CPU workers run int8 only one window per run
 * (engine/node-loader.ts 'unbatched', the default), or the shipped weights as fp32 graphs, batched
 * (WHISPER_CPU_PRECISION=fp32, opt-in; infra/models/float-models.sh, built by infra/setup.sh); the opt-in 'per-row' int8
 * graphs (per-token scales, infra/models/per_row_quant.py) may be batched too. This test holds both batched kinds
 * to it: it decodes the same window
 * alone and among other audio (other speech, loud noise, a quiet clip, in different positions) through the
 * batched path the batcher calls (WhisperTranscriber.runWindows: encoder, language detection, greedy decode,
 * temperature fallback, word alignment) and requires the same tokens, log-probabilities, no-speech probability
 * and word times. Real model files; ~20-40 s on 2 idle cores (the timeouts leave room for a loaded CI machine).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { SAMPLE_RATE } from '../../engine/constants';
import { loadWhisper } from '../../engine/node-loader';
import type { WhisperTranscriber, WindowRequest, WindowResult } from '../../engine/transcriber';
import { mulberry32 } from '../helpers/prng';

const MODELS = path.resolve(__dirname, '../../../shared/models');
const AUDIO = path.resolve(__dirname, '../../../shared/audio');
/** Float noise only: the same GEMMs run on the same row, float ops (LayerNorm, softmax) may be split differently. */
const LOGPROB_TOLERANCE = 1e-3;
const SECONDS_TOLERANCE = 1e-3;

/** 16 kHz mono float32 of `file` (one channel of it with `channel`), as the service's ffmpeg step gives it. */
function decode(file: string, channel?: 0 | 1): Float32Array {
  const pan = channel === undefined ? ['-ac', '1'] : ['-af', `pan=mono|c0=c${channel}`];
  const buf = execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(AUDIO, file), ...pan, '-ar', String(SAMPLE_RATE), '-f', 'f32le', '-'], {
    maxBuffer: 64 << 20,
  });
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

/** 30 s of uniform noise at `amplitude` (deterministic). */
function noise(amplitude: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: 30 * SAMPLE_RATE }, () => (rand() * 2 - 1) * amplitude);
}

const jfk = decode('jfk.wav');
const left = decode('stereo_diarization.wav', 0);
const right = decode('stereo_diarization.wav', 1);
const loud = noise(0.95, 1);
const quiet = jfk.map((x) => x * 0.003);

function req(samples: Float32Array, language: string | null = 'en'): WindowRequest {
  return { samples, language, task: 'transcribe', seed: 7, wordTimestamps: true };
}

/** The parts of a window's result that reach a user (text tokens, Whisper's guards, language, word times). */
function expectSameWindow(batched: WindowResult, alone: WindowResult, label: string) {
  expect({ label, tokens: batched.tokens, language: batched.language, temperature: batched.temperature }).toEqual({
    label,
    tokens: alone.tokens,
    language: alone.language,
    temperature: alone.temperature,
  });
  expect(Math.abs(batched.sumLogprob - alone.sumLogprob)).toBeLessThanOrEqual(LOGPROB_TOLERANCE);
  expect(Math.abs(batched.noSpeechProb - alone.noSpeechProb)).toBeLessThanOrEqual(LOGPROB_TOLERANCE);
  if (alone.languageProbability !== null) expect(Math.abs(batched.languageProbability! - alone.languageProbability)).toBeLessThanOrEqual(LOGPROB_TOLERANCE);
  expect(batched.alignment?.map((w) => w.word)).toEqual(alone.alignment?.map((w) => w.word));
  batched.alignment?.forEach((w, i) => {
    expect(Math.abs(w.start - alone.alignment![i].start)).toBeLessThanOrEqual(SECONDS_TOLERANCE);
    expect(Math.abs(w.end - alone.alignment![i].end)).toBeLessThanOrEqual(SECONDS_TOLERANCE);
  });
}

/** The graphs that may be batched, held to batch independence: fp32 and the per-token int8 (both opt-in). */
const KINDS = [
  ['fp32', { cpuPrecision: 'fp32' }],
  ['per-row int8', { cpuPrecision: 'int8', int8Activations: 'per-row' }],
] as const;

async function engine(model: string, opts: (typeof KINDS)[number][1]): Promise<WhisperTranscriber> {
  const warnings: string[] = [];
  // no warning: the graphs asked for were found (a missing fp32 or per-row folder warns and runs int8 unbatched)
  const t = await loadWhisper(path.join(MODELS, model), { threads: 2, executionProvider: 'cpu', ...opts, warn: (m) => warnings.push(m) });
  expect(warnings).toEqual([]);
  return t;
}

test.each(KINDS)('whisper-tiny.en, %s: a window decodes to the same tokens alone and among speech, loud noise and a quiet clip', async (_, opts) => {
  const t = await engine('whisper-tiny.en', opts);
  const [jfkAlone] = await t.runWindows([req(jfk)]);
  const [leftAlone] = await t.runWindows([req(left)]);
  expect(jfkAlone.tokens.length).toBeGreaterThan(10);
  expect(leftAlone.tokens.length).toBeGreaterThan(10);
  // Other audio first and last, and the target in a different slot each time: a per-tensor scale sees them all.
  const batchA = await t.runWindows([req(loud), req(jfk), req(right), req(quiet)]);
  const batchB = await t.runWindows([req(left), req(loud), req(jfk), req(quiet)]);
  expectSameWindow(batchA[1], jfkAlone, 'jfk among noise, speech, quiet');
  expectSameWindow(batchB[2], jfkAlone, 'jfk among speech, noise, quiet');
  expectSameWindow(batchB[0], leftAlone, 'stereo left among noise, speech, quiet');
  await t.model.release();
}, 600_000);

test.each(KINDS)('whisper-base (maxBatch 2, language detected), %s: the same window alone and beside loud noise', async (_, opts) => {
  const t = await engine('whisper-base', opts);
  const [alone] = await t.runWindows([req(left, null)]);
  const [batched] = await t.runWindows([req(left, null), req(loud, null)]);
  expect(alone.language).toBe('en');
  expectSameWindow(batched, alone, 'stereo left beside loud noise');
  await t.model.release();
}, 600_000);
