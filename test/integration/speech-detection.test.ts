/**
 * Speech detection on the real stack (Silero VAD in audio preparation, issue #17):
 *  - speech between 40 s stretches of pink noise: the speech's words, nothing on the noise, billed ≈ the
 *    speech (Whisper, fed the noise, invents text there; the energy detector sent it);
 *  - the OpenAI route's verbose_json carries Whisper's per-segment figures as numbers, and the request's
 *    temperature is honoured (0.6: every segment decoded at ≥ 0.6).
 * The audio is made at test time with espeak-ng and sox; none is committed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import OpenAI from 'openai';
import { submitAndWait } from '../helpers/harness';
import { fileApp } from '../helpers/file-app';
import { parseWavPcm16Mono } from '../helpers/wav';
import { wer } from '../helpers/wer';

const SR = 16000;
const SENTENCE = 'Please remember to turn off the lights and lock the front door when you leave the house';
const NOISE_S = 40;
/** Seconds of Whisper timing error tolerated at the edges of the speech. */
const EDGE_S = 1;
const JFK = path.resolve(__dirname, '../../../shared/audio/jfk.wav');

const env = fileApp('fs-vad-');

function run(cmd: string, args: string[]) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

test('speech between pink noise: the words of the speech, nothing on the noise, billed for the speech', async () => {
  const raw = path.join(env.tmp, 'raw.wav');
  const speech = path.join(env.tmp, 'speech.wav');
  const noise = path.join(env.tmp, 'noise.wav');
  const file = path.join(env.tmp, 'noisy.wav');
  run('espeak-ng', ['-s', '150', '-w', raw, SENTENCE]);
  run('sox', ['-R', '-D', raw, '-r', String(SR), '-c', '1', '-b', '16', speech, 'silence', '1', '0.01', '-60d', 'reverse', 'silence', '1', '0.01', '-60d', 'reverse']);
  // Pink noise at about -22 dBFS RMS: loud enough that an energy threshold calls it sound.
  run('sox', ['-R', '-n', '-r', String(SR), '-c', '1', '-b', '16', noise, 'synth', String(NOISE_S), 'pinknoise', 'vol', '0.25']);
  run('sox', ['-R', '-D', noise, speech, noise, file]);
  const speechSeconds = parseWavPcm16Mono(fs.readFileSync(speech)).samples.length / SR;

  const { apiKey } = await env.app.user('free');
  const job = await submitAndWait(env.app.url, apiKey, file, {}, 120_000);
  expect(job.status).toBe('completed');
  const segments = job.segments as { start: number; end: number; text: string; avgLogprob: number; noSpeechProb: number; compressionRatio: number; temperature: number; tokens: number[]; windowStart: number }[];
  process.stderr.write(`[noise] speech ${NOISE_S}–${(NOISE_S + speechSeconds).toFixed(2)} s, billed ${job.billedSeconds}; ${JSON.stringify(segments.map((s) => [s.start, s.end, s.text]))}\n`);
  expect(wer(SENTENCE, job.text)).toBeLessThanOrEqual(0.2);
  for (const s of segments) {
    expect(s.start).toBeGreaterThanOrEqual(NOISE_S - EDGE_S);
    expect(s.end).toBeLessThanOrEqual(NOISE_S + speechSeconds + EDGE_S);
    // the job JSON carries Whisper's figures (camelCase)
    for (const k of ['avgLogprob', 'noSpeechProb', 'compressionRatio', 'temperature'] as const) expect(typeof s[k]).toBe('number');
    expect(s.tokens.length).toBeGreaterThan(0);
    // the decoding window's start, on the job's time line: at the speech (its chunk starts there), never after the segment
    expect(s.windowStart).toBeGreaterThanOrEqual(NOISE_S - EDGE_S);
    expect(s.windowStart).toBeLessThanOrEqual(s.start);
  }
  // billed = the speech and its padding (0.4 s a side), rounded up; never the 80 s of noise
  expect(job.billedSeconds).toBeGreaterThanOrEqual(Math.floor(speechSeconds));
  expect(job.billedSeconds).toBeLessThanOrEqual(Math.ceil(speechSeconds + 2 * 0.4 + 0.1));
}, 180_000);

test('verbose_json: Whisper’s figures are numbers; temperature=0.6 decodes every segment at ≥ 0.6', async () => {
  const { apiKey } = await env.app.user('premium');
  const client = new OpenAI({ apiKey, baseURL: `${env.app.url}/v1`, maxRetries: 0 });
  const greedy = (await client.audio.transcriptions.create({ file: fs.createReadStream(JFK), model: 'whisper-1', response_format: 'verbose_json' })) as unknown as {
    segments: Record<string, unknown>[];
  };
  expect(greedy.segments.length).toBeGreaterThan(0);
  for (const s of greedy.segments) {
    for (const k of ['avg_logprob', 'no_speech_prob', 'compression_ratio', 'temperature']) expect(typeof s[k]).toBe('number');
    expect((s.tokens as number[]).length).toBeGreaterThan(0);
    expect(s.avg_logprob as number).toBeLessThanOrEqual(0);
    expect(s.compression_ratio as number).toBeGreaterThan(0);
    // openai's seek: the window's offset in mel frames (100 per second), at or before the segment
    expect(Number.isInteger(s.seek)).toBe(true);
    expect((s.seek as number) / 100).toBeLessThanOrEqual((s.start as number) + 1e-9);
  }
  const sampled = (await client.audio.transcriptions.create({
    file: fs.createReadStream(JFK),
    model: 'whisper-1',
    response_format: 'verbose_json',
    temperature: 0.6,
  })) as unknown as { segments: { temperature: number }[] };
  expect(sampled.segments.length).toBeGreaterThan(0);
  for (const s of sampled.segments) expect(s.temperature).toBeGreaterThanOrEqual(0.6);
}, 180_000);
