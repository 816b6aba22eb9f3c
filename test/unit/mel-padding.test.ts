/**
 * The decoding window's padding (engine/transcriber.ts MelPadding, runWindows) with a stand-in model that records what
 * the encoder is given: 'zeros' sets the log-mel frames past the window's audio to 0.0 (openai transcribe.py's
 * pad_or_trim of the mel segment) and keeps the frames of the audio as they are; language detection still reads the
 * audio-padded window (transcribe.py's detect_language input), by its own encoder run; 'zeros' is the default;
 * 'audio' and a full 30 s window are one encoder run on the log-mel of the audio zero-padded to 30 s.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { HOP_LENGTH, N_FRAMES, N_MELS, N_SAMPLES } from '../../engine/constants';
import { logMelSpectrogram } from '../../engine/logmel';
import type { DecodedRow, WhisperModel } from '../../engine/model';
import { DEFAULT_MEL_PADDING, WhisperTranscriber, type MelPadding } from '../../engine/transcriber';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';

const MODEL_DIR = path.resolve(__dirname, '../../../shared/models/whisper-base');
const vocab = new WhisperVocab(JSON.parse(readFileSync(path.join(MODEL_DIR, 'generation_config.json'), 'utf8')) as GenerationConfig);

/** Records each encoder input and which of them language detection read. */
function recordingModel(encoded: Float32Array[], detectedOn: number[]): WhisperModel {
  const row: DecodedRow = { tokens: [vocab.timestampBegin, vocab.timestampBegin + 50], sumLogprob: -0.1, avgLogprob: -0.1, noSpeechProb: 0.01 };
  return {
    vocab,
    encode: async (f: Float32Array, batch: number) => {
      encoded.push(f.slice());
      return { dims: [batch, 1500, 512], run: encoded.length - 1 };
    },
    selectRows: (h: { run: number }, rows: number[]) => ({ dims: [rows.length, 1500, 512], rows, run: h.run }),
    detectLanguage: async (h: { run: number; dims: number[] }) => {
      detectedOn.push(h.run);
      return Array.from({ length: h.dims[0] }, () => ({ language: 'de', probability: 0.9 }));
    },
    decode: async (_h: unknown, prompts: number[][]) => prompts.map(() => row),
  } as unknown as WhisperModel;
}

const tokenizer = { decode: () => 'Wort' };
/** 2.5 s of a 440 Hz tone: 250 frames of audio */
const samples = Float32Array.from({ length: 40_000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16_000));
const frames = Math.floor(samples.length / HOP_LENGTH);

async function run(melPadding: MelPadding | undefined, language: string | null, audio = samples) {
  const encoded: Float32Array[] = [];
  const detectedOn: number[] = [];
  const t = new WhisperTranscriber(recordingModel(encoded, detectedOn), tokenizer);
  const [r] = await t.runWindows([{ samples: audio, language, task: 'transcribe', melPadding }]);
  return { encoded, detectedOn, r };
}

test("'zeros': the frames past the audio are 0.0 in every band, the frames of the audio unchanged", async () => {
  const { encoded } = await run('zeros', 'en');
  expect(encoded).toHaveLength(1);
  const audioPadded = logMelSpectrogram(samples);
  for (let m = 0; m < N_MELS; m++) {
    const band = encoded[0].subarray(m * N_FRAMES, (m + 1) * N_FRAMES);
    expect(band.subarray(0, frames)).toEqual(audioPadded.subarray(m * N_FRAMES, m * N_FRAMES + frames));
    expect(band.subarray(frames).every((x) => x === 0)).toBe(true);
  }
  // the log-mel floor is what 'audio' pads with: not 0
  expect(audioPadded[N_FRAMES - 1]).toBeLessThan(-0.1);
});

test("'zeros' with detection: detection reads the audio-padded window by its own encoder run; decoding the zero-padded one", async () => {
  const { encoded, detectedOn, r } = await run('zeros', null);
  expect(encoded).toHaveLength(2);
  expect(encoded[1]).toEqual(logMelSpectrogram(samples));
  expect(detectedOn).toEqual([1]);
  expect(encoded[0][N_FRAMES - 1]).toBe(0);
  expect([r.language, r.languageProbability]).toEqual(['de', 0.9]);
});

test("'audio': one encoder run on the audio-padded window, detection on it", async () => {
  const { encoded, detectedOn } = await run('audio', null);
  expect(encoded).toEqual([logMelSpectrogram(samples)]);
  expect(detectedOn).toEqual([0]);
});

test("the default is 'zeros', as openai transcribe.py and faster-whisper decode", async () => {
  expect(DEFAULT_MEL_PADDING).toBe('zeros');
  const byDefault = await run(undefined, 'en');
  const zeros = await run('zeros', 'en');
  expect(byDefault.encoded).toEqual(zeros.encoded);
  expect(byDefault.encoded[0][N_FRAMES - 1]).toBe(0);
});

test("a full 30 s window has no padding: 'zeros' changes nothing and detects on the same run", async () => {
  const full = Float32Array.from({ length: N_SAMPLES }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16_000));
  const { encoded, detectedOn } = await run('zeros', null, full);
  expect(encoded).toEqual([logMelSpectrogram(full)]);
  expect(detectedOn).toEqual([0]);
});
