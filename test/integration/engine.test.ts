/**
 * The Whisper engine on the real model, outside Temporal: accuracy on jfk, silence gives no text,
 * the CUDA request falls back to CPU with one warning, and the engine thread keeps the event loop free.
 */
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readWav } from '../helpers/wav';
import { wer } from '../helpers/wer';
import { loadWhisper } from '../../engine/node-loader';
import { EngineClient } from '../../engine/client';
import { SAMPLE_RATE } from '../../engine/constants';

const MODELS = path.resolve(__dirname, '../../../shared/models');
const TINY = path.join(MODELS, 'whisper-tiny.en');
const BASE = path.join(MODELS, 'whisper-base');
const JFK = path.resolve(__dirname, '../../../shared/audio/jfk.wav');
const JFK_REFERENCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

test('whisper-tiny.en in-process (Jest realm): jfk WER ≤ 10%, timestamps inside the audio', async () => {
  const engine = await loadWhisper(TINY, { threads: 2, executionProvider: 'cpu' });
  const samples = readWav(JFK);
  const r = await engine.transcribe(samples);
  const text = r.segments.map((s) => s.text).join(' ');
  expect(wer(JFK_REFERENCE, text)).toBeLessThanOrEqual(0.1);
  const duration = samples.length / SAMPLE_RATE;
  for (const s of r.segments) {
    expect(s.start).toBeGreaterThanOrEqual(0);
    expect(s.end).toBeLessThanOrEqual(duration);
    expect(s.end).toBeGreaterThanOrEqual(s.start);
  }
  await engine.model.release();
}, 60_000);

test('silence and low noise give no text', async () => {
  const engine = await loadWhisper(TINY, { threads: 2, executionProvider: 'cpu' });
  const silence = new Float32Array(SAMPLE_RATE * 10);
  expect((await engine.transcribe(silence)).segments).toEqual([]);
  // Deterministic white-ish noise at -50 dBFS (a quiet room)
  let seed = 1;
  const noise = silence.map(() => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return ((seed / 0x7fffffff) * 2 - 1) * 0.003;
  });
  expect((await engine.transcribe(noise)).segments).toEqual([]);
  await engine.model.release();
}, 60_000);

test('whisper-base detects English on jfk', async () => {
  const engine = await loadWhisper(BASE, { threads: 2, executionProvider: 'cpu' });
  const r = await engine.transcribe(readWav(JFK), { language: null });
  expect(r.language).toBe('en');
  expect(r.languageProbability).toBeGreaterThan(0.5);
  expect(wer(JFK_REFERENCE, r.segments.map((s) => s.text).join(' '))).toBeLessThanOrEqual(0.1);
  await engine.model.release();
}, 60_000);

test('WHISPER_EP=cuda on a machine without CUDA warns once and runs on CPU', async () => {
  const warnings: string[] = [];
  const engine = await loadWhisper(TINY, { threads: 2, executionProvider: 'cuda', warn: (m) => warnings.push(m) });
  const r = await engine.transcribe(readWav(JFK));
  expect(wer(JFK_REFERENCE, r.segments.map((s) => s.text).join(' '))).toBeLessThanOrEqual(0.1);
  // one line per session (encoder, decoder), each naming the fallback
  expect(warnings.length).toBeGreaterThan(0);
  for (const w of warnings) expect(w).toMatch(/CUDA execution provider unavailable .* using CPU/);
  await engine.model.release();
}, 60_000);

test('the engine thread keeps the event loop responsive during inference (lag < 50 ms)', async () => {
  const client = new EngineClient({ threads: 2, executionProvider: 'cpu' });
  await client.preload(TINY);
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const results = await Promise.all([0, 1].map(() => client.transcribe(TINY, readWav(JFK), { language: null, task: 'transcribe' })));
  histogram.disable();
  await client.close();
  for (const r of results) expect(wer(JFK_REFERENCE, r.segments.map((s) => s.text).join(' '))).toBeLessThanOrEqual(0.1);
  const maxLagMs = histogram.max / 1e6;
  process.stderr.write(`[engine] worst event-loop lag during 2 inferences: ${maxLagMs.toFixed(1)} ms\n`);
  expect(maxLagMs).toBeLessThan(50);
}, 60_000);
