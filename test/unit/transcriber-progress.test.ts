/**
 * The transcriber's `onWindow` hook (privacy mode's page shows progress and segments with it): one report
 * per window, seconds done only growing up to the total, and together the reported segments are the
 * result's segments. The model is a stand-in that answers every window with the same timestamped tokens;
 * the vocabulary is whisper-tiny.en's (../shared/models/whisper-tiny.en/generation_config.json).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TIME_PER_TIMESTAMP_S } from '../../engine/constants';
import type { DecodedRow, WhisperModel } from '../../engine/model';
import { WhisperTranscriber, type WindowProgress } from '../../engine/transcriber';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';
import { mulberry32 } from '../helpers/prng';

const MODEL_DIR = path.resolve(__dirname, '../../../shared/models/whisper-tiny.en');
const vocab = new WhisperVocab(JSON.parse(readFileSync(path.join(MODEL_DIR, 'generation_config.json'), 'utf8')) as GenerationConfig);
const ts = (seconds: number) => vocab.timestampBegin + Math.round(seconds / TIME_PER_TIMESTAMP_S);
const WORD = 464;

/** Every window: two closed segments, 0–10 s and 10–20 s, so the seek moves 20 s per window. */
function fakeModel(): WhisperModel {
  const row: DecodedRow = { tokens: [ts(0), WORD, ts(10), ts(10), WORD, ts(20), ts(20)], sumLogprob: -1, avgLogprob: -0.1, noSpeechProb: 0.01 };
  return {
    vocab,
    encode: async (_f: Float32Array, batch: number) => ({ dims: [batch, 1500, 384] }),
    decode: async (_h: unknown, prompts: number[][]) => prompts.map(() => ({ ...row, tokens: [...row.tokens] })),
  } as unknown as WhisperModel;
}

test('onWindow reports each window’s progress and segments', async () => {
  const t = new WhisperTranscriber(fakeModel(), { decode: () => 'word' });
  const rand = mulberry32(7);
  const seconds = 50;
  const samples = Float32Array.from({ length: seconds * 16000 }, () => (rand() - 0.5) * 0.2);
  const reports: WindowProgress[] = [];
  const result = await t.transcribe(samples, { onWindow: (p) => reports.push(p) });
  expect(reports.map((r) => r.doneSeconds)).toEqual([20, 40, 50]);
  expect(reports.every((r) => r.totalSeconds === seconds)).toBe(true);
  const reported = reports.flatMap((r) => r.segments.map((s) => [s.start, s.end]));
  expect(reported).toEqual(result.segments.map((s) => [s.start, s.end]));
  expect(reported.slice(0, 5)).toEqual([[0, 10], [10, 20], [20, 30], [30, 40], [40, 50]]);
});
