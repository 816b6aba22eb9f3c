/**
 * The transcriber's tail rule (engine/transcriber.ts tailSeek): a window whose output ends on a single timestamp
 * well before the window's end is decoded again from that timestamp, where openai/whisper transcribe.py consumes
 * the whole window ("single timestamp at the end means no speech after the last timestamp"). Our chunks are VAD
 * speech with the pauses removed, so that rest is speech the model never decoded: bench:pipeline lost 6 of 20
 * passages that way. The model is a stand-in answering each window from a script; the vocabulary is
 * whisper-tiny.en's (../shared/models/whisper-tiny.en/generation_config.json).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TIME_PER_TIMESTAMP_S } from '../../engine/constants';
import type { DecodedRow, WhisperModel } from '../../engine/model';
import { repeatsEnd, TAIL_REDECODE_MIN_S, tailSeek, WhisperTranscriber } from '../../engine/transcriber';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';
import { mulberry32 } from '../helpers/prng';

const MODEL_DIR = path.resolve(__dirname, '../../../shared/models/whisper-tiny.en');
const vocab = new WhisperVocab(JSON.parse(readFileSync(path.join(MODEL_DIR, 'generation_config.json'), 'utf8')) as GenerationConfig);
const ts = (seconds: number) => vocab.timestampBegin + Math.round(seconds / TIME_PER_TIMESTAMP_S);
/** text tokens of the stand-in tokenizer: id → word ('' = a token with no text) */
const WORDS: Record<number, string> = { 100: 'ask not what your country can do for you.', 101: 'for you.', 102: 'He began a confused complaint.', 103: 'The horizon seems extremely distant.', 104: '' };
const tokenizer = { decode: (ids: number[]) => ids.map((i) => WORDS[i] ?? '').join(' ') };

/** Answers the k-th decoded window with script[k] (the last entry for every later one); records each window's length. */
function scriptedModel(script: number[][], windowSamples: number[]): WhisperModel {
  let k = 0;
  return {
    vocab,
    encode: async (features: Float32Array, batch: number) => ({ dims: [batch, 1500, 384], features }),
    decode: async (_h: unknown, prompts: number[][]) =>
      prompts.map(() => {
        const tokens = script[Math.min(k++, script.length - 1)];
        return { tokens: [...tokens], sumLogprob: -1, avgLogprob: -0.1, noSpeechProb: 0.01 } satisfies DecodedRow;
      }),
  } as unknown as WhisperModel & { windows: number[] };
}

function noise(seconds: number, seed = 7): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: Math.round(seconds * 16000) }, () => (rand() - 0.5) * 0.2);
}

async function run(samples: Float32Array, script: number[][]) {
  const windows: number[] = [];
  const model = scriptedModel(script, windows);
  let decodes = 0;
  const inner = model.decode.bind(model);
  model.decode = (async (...args: Parameters<WhisperModel['decode']>) => {
    decodes++;
    return inner(...args);
  }) as WhisperModel['decode'];
  const r = await new WhisperTranscriber(model, tokenizer).transcribe(samples, { language: 'en', fallback: false });
  return { r, decodes, texts: r.segments.map((s) => s.text), spans: r.segments.map((s) => [s.start, s.end]) };
}

test('a single timestamp ending 11 s into a 25 s speech window decodes the rest (openai would skip 14 s)', async () => {
  const { texts, spans, r } = await run(noise(25), [
    [ts(0), 100, ts(11)], // jfk, then the model stops: openai's rule would take the window as done
    [ts(0), 102, ts(6), ts(7), 103, ts(10), ts(10)], // the rest, from 11 s
    [ts(0), 103, ts(3.9)], // 21–25 s: ends 0.1 s before the window's end, nothing left to decode
  ]);
  expect(texts).toEqual(['ask not what your country can do for you.', 'He began a confused complaint.', 'The horizon seems extremely distant.', 'The horizon seems extremely distant.']);
  expect(spans).toEqual([[0, 11], [11, 17], [18, 21], [21, 24.9]]);
  expect(r.tailWindows).toBe(1);
});

test('a single timestamp ending with no closed pair before it (one segment) is a tail too', async () => {
  const { texts } = await run(noise(20), [[ts(0), 100, ts(8)], [ts(0), 102, ts(11.5)]]);
  expect(texts).toEqual(['ask not what your country can do for you.', 'He began a confused complaint.']);
});

test('a rest below the energy floor, or shorter than the VAD padding allows speech in, is not decoded again', async () => {
  const speechThenSilence = new Float32Array(25 * 16000);
  speechThenSilence.set(noise(11));
  const silent = await run(speechThenSilence, [[ts(0), 100, ts(11)], [ts(0), 102, ts(5)]]);
  expect(silent.decodes).toBe(1);
  expect(silent.texts).toEqual(['ask not what your country can do for you.']);
  const short = await run(noise(12), [[ts(0), 100, ts(12 - TAIL_REDECODE_MIN_S + 0.1)], [ts(0), 102, ts(0.5)]]);
  expect(short.decodes).toBe(1);
});

test('a tail that produces no text starts no further tail (no loop), and every tail moves forward', async () => {
  const { decodes, texts } = await run(noise(25), [[ts(0), 100, ts(5)], [ts(0), 104, ts(2)]]);
  expect(decodes).toBe(2);
  expect(texts).toEqual(['ask not what your country can do for you.']);
  expect(tailSeek([ts(0), 100, ts(0)], vocab, 30)).toBeNull();
  expect(tailSeek([ts(0), 100, ts(5), ts(5)], vocab, 30)).toBeNull(); // a closed pair: openai's seek already stops there
});

test('a tail that begins inside the words already transcribed keeps them once', async () => {
  const { texts, r } = await run(noise(25), [
    [ts(0), 100, ts(10)],
    [ts(0), 101, ts(1), ts(1.5), 102, ts(6), ts(6)], // "for you." again: the last timestamp came early
    [ts(0), 103, ts(8.9)],
  ]);
  expect(texts).toEqual(['ask not what your country can do for you.', 'He began a confused complaint.', 'The horizon seems extremely distant.']);
  expect(r.tailRepeatsDropped).toBe(1);
  expect(repeatsEnd('ask not what your country can do for you.', 'For you!')).toBe(true);
  expect(repeatsEnd('ask not what your country can do for you.', 'you can do')).toBe(false);
  expect(repeatsEnd('he said no', 'so')).toBe(false); // whole words only
});
