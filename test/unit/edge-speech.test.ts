/**
 * Privacy mode's speech path (edge/page/speech.ts): the page plans chunks from Silero VAD probabilities
 * as the service does, gives the model only speech, maps segment times back to the file and takes the
 * language with the most speech. The engine is a stand-in that records what it was given.
 */
import { transcribeSpeech, type ChunkTranscript } from '../../edge/page/speech';
import { planSpeechChunks } from '../../audio/speech-spans';

const SR = 16000;
const FRAME = 512;

/** Probabilities per 512-sample frame: 's' speech (0.9) or 'q' quiet (0.05) for the given seconds. */
function track(parts: ['s' | 'q', number][]): { probs: Float32Array; samples: Float32Array } {
  const probs: number[] = [];
  for (const [k, sec] of parts) for (let i = 0; i < Math.round((sec * SR) / FRAME); i++) probs.push(k === 's' ? 0.9 : 0.05);
  const samples = new Float32Array(probs.length * FRAME);
  // each sample holds its own time, so the test sees which audio reached the engine
  for (let i = 0; i < samples.length; i++) samples[i] = i / SR;
  return { probs: Float32Array.from(probs), samples };
}

test('no speech: the model never runs, no segments, the fallback language', async () => {
  const { probs, samples } = track([['q', 40]]);
  const calls: number[] = [];
  const r = await transcribeSpeech(samples, probs, async (a) => (calls.push(a.length), { segments: [], language: 'en', languageProbability: null }), 'en');
  expect(calls).toEqual([]);
  expect(r).toEqual({ segments: [], language: 'en', speechSeconds: 0, chunks: 0 });
});

test('speech between noise: only the padded speech reaches the model; segment times land on the speech', async () => {
  const { probs, samples } = track([['q', 10], ['s', 5], ['q', 10]]);
  const given: { first: number; last: number }[] = [];
  const r = await transcribeSpeech(
    samples,
    probs,
    async (audio): Promise<ChunkTranscript> => {
      given.push({ first: audio[0], last: audio[audio.length - 1] });
      const seg = { start: 0.5, end: audio.length / SR - 0.5, text: ' hello', avgLogprob: -0.2, noSpeechProb: 0.01, compressionRatio: 1, temperature: 0, tokens: [1], windowStart: 0 };
      return { segments: [seg], language: 'en', languageProbability: null };
    },
    'en',
  );
  // (frames of 32 ms: times to a frame) the speech with faster-whisper's 400 ms padding on each side (audio/vad.ts speechPadMs)
  expect(given).toHaveLength(1);
  expect(given[0].first).toBeCloseTo(10 - 0.4, 1);
  expect(given[0].last).toBeCloseTo(15 + 0.4, 1);
  expect(r.chunks).toBe(1);
  expect(r.speechSeconds).toBeCloseTo(5.8, 1);
  expect(r.segments).toHaveLength(1);
  expect(r.segments[0].start).toBeCloseTo(10.1, 1);
  expect(r.segments[0].end).toBeCloseTo(14.9, 1);
});

test('chunks and speech seconds are the service plan; the job language is the one with the most speech', async () => {
  // three stretches of 25 s of speech, 40 s apart: chunks over the speech laid end to end cut at the removed pauses
  const { probs, samples } = track([['s', 25], ['q', 40], ['s', 25], ['q', 40], ['s', 25]]);
  const plan = planSpeechChunks(probs, samples.length);
  const langs = ['de', 'en', 'de'];
  const progress: { doneSeconds: number; totalSeconds: number }[] = [];
  let k = 0;
  const r = await transcribeSpeech(
    samples,
    probs,
    async (audio, _chunk, p) => {
      progress.push(p);
      const language = langs[k++];
      return { segments: [{ start: 0, end: audio.length / SR, text: ` ${language}`, avgLogprob: -0.2, noSpeechProb: 0, compressionRatio: 1, temperature: 0, tokens: [1], windowStart: 0 }], language, languageProbability: 0.9 };
    },
    'en',
  );
  expect(plan.chunks).toHaveLength(3);
  expect(r.chunks).toBe(3);
  expect(r.speechSeconds).toBe(plan.speechSeconds);
  expect(r.language).toBe('de');
  expect(r.segments.map((s) => s.text.trim())).toEqual(['de', 'en', 'de']);
  expect(r.segments.map((s) => s.language)).toEqual(['de', 'en', 'de']);
  // progress counts seconds of speech, ending at the total
  expect(progress[0].doneSeconds).toBe(0);
  expect(progress.every((p) => p.totalSeconds === progress[0].totalSeconds)).toBe(true);
  expect(progress[2].doneSeconds).toBeLessThan(progress[0].totalSeconds);
});
