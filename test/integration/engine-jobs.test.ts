/**
 * The engine's job-level features on the real stack and models:
 *  - routing by language: with neither language nor model given, a free job's first window goes to
 *    whisper-base for language detection; English is transcribed by whisper-tiny.en, German by whisper-base;
 *  - the quality tier without a larger model installed says which model it used instead;
 *  - speech + 20 s of silence + speech: the silence never reaches inference, the second sentence's
 *    segment keeps its true start on the original time line, and only the speech is billed;
 *  - a job's `prompt` reaches the decoder (a made-up name is spelled as the prompt spells it), while
 *    without it the greedy pass fails Whisper's guards and the window is decoded again by sampling;
 *    the OpenAI route's `prompt` spells a product name espeak-ng says ("Kubernetes") as prompted.
 * Audio is made with espeak-ng and sox in a temporary folder at test time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { submitAndWait } from '../helpers/harness';
import { fileApp } from '../helpers/file-app';
import { readWav } from '../helpers/wav';
import { normalise, wer } from '../helpers/wer';
import { loadWhisper } from '../../engine/node-loader';
import { SHARED_MODELS } from '../helpers/models';

const SR = 16000;
const FIRST = 'We planted tomatoes and carrots in the garden last spring';
const SECOND = 'Please remember to turn off the lights when you leave the house';
const NAME = 'My colleague Quetzalli Oyelaran will present the results of the Xanthoria survey tomorrow';
const GERMAN = 'Wir haben im letzten Frühling Tomaten und Karotten im Garten gepflanzt und sie am Ende des Sommers geerntet';
const GAP_S = 20;

const env = fileApp('fs-timeline-');

function run(cmd: string, args: string[]) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** One espeak-ng sentence as 16 kHz mono 16-bit WAV, leading and trailing silence trimmed. */
function speak(name: string, text: string): string {
  const raw = path.join(env.tmp, `${name}-raw.wav`);
  const out = path.join(env.tmp, `${name}.wav`);
  run('espeak-ng', ['-s', '150', '-w', raw, text]);
  run('sox', ['-R', '-D', raw, '-r', String(SR), '-c', '1', '-b', '16', out,
    'silence', '1', '0.01', '-60d', 'reverse', 'silence', '1', '0.01', '-60d', 'reverse']);
  return out;
}

const seconds = (wav: string) => readWav(wav).length / SR;

test('speech + 20 s silence + speech: the second segment keeps its true start; only speech is billed', async () => {
  const a = speak('first', FIRST);
  const b = speak('second', SECOND);
  const lead = path.join(env.tmp, 'lead.wav');
  const gap = path.join(env.tmp, 'gap.wav');
  run('sox', ['-R', '-n', '-r', String(SR), '-c', '1', '-b', '16', lead, 'trim', '0', '3']);
  run('sox', ['-R', '-n', '-r', String(SR), '-c', '1', '-b', '16', gap, 'trim', '0', String(GAP_S)]);
  const file = path.join(env.tmp, 'gapped.wav');
  run('sox', ['-R', '-D', lead, a, gap, b, lead, file]);
  const secondStart = 3 + seconds(a) + GAP_S;
  const total = seconds(file);

  const { apiKey } = await env.app.user('free');
  // no language: detected on the first window (English), so the English-only economy model transcribes
  const job = await submitAndWait(env.app.url, apiKey, file, {}, 90_000);
  expect(job.status).toBe('completed');
  expect(job.model).toBe('whisper-tiny.en');
  expect(job.language).toBe('en');
  expect(job.languageProbability).toBeGreaterThan(0.5);
  expect(job.audioSeconds).toBeCloseTo(total, 1);
  // billed: the two sentences and their margins, not the 3 + 20 + 3 s of silence
  const speech = seconds(a) + seconds(b);
  expect(job.billedSeconds).toBeLessThan(total - 20);
  expect(job.billedSeconds).toBeGreaterThanOrEqual(Math.floor(speech));
  expect(job.billedSeconds).toBeLessThanOrEqual(Math.ceil(speech + 2 * 2 * 0.5));
  // one chunk of two pieces: both sentences, each once
  expect(job.progress.chunksTotal).toBe(1);
  expect(wer(`${FIRST} ${SECOND}`, job.text)).toBeLessThanOrEqual(0.15);

  const segments = job.segments as { start: number; end: number; text: string }[];
  const firstWordOfSecond = normalise(SECOND)[0];
  const i = segments.findIndex((s) => normalise(s.text)[0] === firstWordOfSecond);
  expect(i).toBeGreaterThan(0);
  process.stderr.write(`[timeline] second sentence at ${secondStart.toFixed(2)} s; segments ${JSON.stringify(segments)}\n`);
  expect(Math.abs(segments[i].start - secondStart)).toBeLessThanOrEqual(1.0);
  for (const s of segments.slice(0, i)) expect(s.end).toBeLessThanOrEqual(3 + seconds(a) + 1.0);
}, 150_000);

test('a job’s prompt spells a made-up name as the prompt does', async () => {
  const file = speak('name', NAME);
  const { apiKey } = await env.app.user('free');
  const job = await submitAndWait(env.app.url, apiKey, file, { language: 'en', prompt: 'Quetzalli Oyelaran, Xanthoria survey.' }, 90_000);
  expect(job.status).toBe('completed');
  expect(job.text).toMatch(/Quetzalli Oyelaran/);
}, 120_000);

test('the OpenAI route’s prompt spells a product name as prompted (faster-whisper’s initial_prompt does the same)', async () => {
  // bench/eval-wer.ts --sets prompt, case "Kubernetes #4": without the prompt tiny.en hears "Cuban eat"
  // (faster-whisper too, on the same weights); with it both write "Kubernetes".
  const raw = path.join(env.tmp, 'kubernetes-raw.wav');
  const file = path.join(env.tmp, 'kubernetes.wav');
  run('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', raw, 'Our Kubernetes cluster runs three hundred pods in two regions']);
  run('sox', ['-R', '-D', raw, '-r', String(SR), '-c', '1', '-b', '16', file, 'pad', '0.3', '0.3']);
  const { apiKey } = await env.app.user('free');
  const ask = async (prompt?: string) => {
    const form = new FormData();
    form.set('file', new Blob([fs.readFileSync(file)]), 'kubernetes.wav');
    form.set('model', 'whisper-1');
    form.set('language', 'en');
    if (prompt) form.set('prompt', prompt);
    const res = await fetch(`${env.app.url}/v1/audio/transcriptions`, { method: 'POST', body: form, headers: { authorization: `Bearer ${apiKey}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { text: string }).text;
  };
  // one after the other: each decodes alone, as the eval did (int8 activations are quantised per batch)
  const plain = await ask();
  const prompted = await ask('Kubernetes');
  process.stderr.write(`[prompt] without: ${plain} | with: ${prompted}\n`);
  expect(prompted).toMatch(/\bKubernetes\b/);
  expect(plain).not.toMatch(/\bKubernetes\b/);
}, 120_000);

test('without the prompt the greedy pass fails Whisper’s guards and the window is sampled again, seeded', async () => {
  const engine = await loadWhisper(path.join(SHARED_MODELS, 'whisper-tiny.en'), { threads: 2, executionProvider: 'cpu' });
  const audio = readWav(path.join(env.tmp, 'name.wav'));
  const r1 = await engine.transcribe(audio.slice(), { seed: 7 });
  const r2 = await engine.transcribe(audio.slice(), { seed: 7 });
  await engine.model.release();
  expect(r1.temperatures).toHaveLength(1);
  expect(r1.temperatures[0]).toBeGreaterThan(0);
  expect(r1.segments.map((s) => s.text)).toEqual(r2.segments.map((s) => s.text));
  expect(r1.segments.map((s) => s.text).join(' ')).not.toMatch(/Quetzalli Oyelaran/);
}, 60_000);

test('a free job in German without a language is detected and routed to the multilingual model', async () => {
  const raw = path.join(env.tmp, 'de-raw.wav');
  const file = path.join(env.tmp, 'de.wav');
  run('espeak-ng', ['-v', 'de', '-s', '140', '-w', raw, GERMAN]);
  run('sox', ['-R', '-D', raw, '-r', String(SR), '-c', '1', '-b', '16', file]);
  const { apiKey } = await env.app.user('free');
  const job = await submitAndWait(env.app.url, apiKey, file, {}, 90_000);
  expect(job.status).toBe('completed');
  expect(job.modelTier).toBe('economy');
  expect(job.model).toBe('whisper-base');
  expect(job.language).toBe('de');
  // espeak's German is accented: measured 0.48 (jfk's English: 0.93)
  expect(job.languageProbability).toBeGreaterThan(0.3);
  expect(job.text).toMatch(/Tomaten/);
}, 120_000);

test('quality without a larger model installed uses the best installed one and says so', async () => {
  const { apiKey } = await env.app.user('premium');
  const job = await submitAndWait(env.app.url, apiKey, path.join(env.tmp, 'first.wav'), { requireHighAccuracy: 'true', language: 'en' }, 90_000);
  expect(job.status).toBe('completed');
  expect(job.modelTier).toBe('quality');
  expect(job.model).toBe('whisper-base');
  expect(job.modelNote).toBe('whisper-large-v3 is not installed; using whisper-base');
}, 120_000);
