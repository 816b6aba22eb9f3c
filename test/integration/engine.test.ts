/**
 * The Whisper engine on the real model, outside Temporal: accuracy on jfk, silence gives no text,
 * CUDA on int8 graphs is refused, on float graphs it falls back to CPU with one warning, the float graphs give
 * the int8 text, a CPU engine runs its model's default (tiny.en: fp32 encoder + int8 decoder) and int8 or fp32 when asked
 * (WHISPER_CPU_PRECISION) and batches fp32, missing fp32 graphs fall
 * back to int8 one window per run with one warning, and the engine thread keeps the event loop free.
 * Needs the fp32 graphs `npm run setup` builds (infra/models/float-models.sh whisper-tiny.en whisper-base).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readWav } from '../helpers/wav';
import { wer } from '../helpers/wer';
import { loadWhisper } from '../../engine/node-loader';
import { defaultCpuPrecision, Int8OnCudaError } from '../../engine/precision';
import { EngineClient } from '../../engine/client';
import { SAMPLE_RATE } from '../../engine/constants';
import { applyDecodingRules, greedyPick, logSoftmax } from '../../engine/decoding';
import { logMelSpectrogram } from '../../engine/logmel';
import { SUPPRESS_MASK } from '../../engine/step-graph';
import * as ort from 'onnxruntime-node';

const MODELS = path.resolve(__dirname, '../../../shared/models');
const TINY = path.join(MODELS, 'whisper-tiny.en');
const BASE = path.join(MODELS, 'whisper-base');
const FLOAT_TINY = path.join(
  process.env.FAIRSCRIBE_FLOAT_MODELS ?? path.join(process.env.FAIRSCRIBE_CACHE ?? path.join(os.homedir(), '.cache', 'fairscribe'), 'models-float'),
  'whisper-tiny.en',
);
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

test('WHISPER_EP=cuda on int8 graphs is refused: they have no CUDA kernels and would run on the CPU', async () => {
  await expect(loadWhisper(TINY, { threads: 2, executionProvider: 'cuda' })).rejects.toThrow(Int8OnCudaError);
});

test('WHISPER_EP=cuda on float graphs on a machine without CUDA warns once per session and runs on CPU', async () => {
  // Made by `npm run setup` (infra/models/float-models.sh: dequantize.py on the shipped int8 files, ~10 s).
  expect(fs.existsSync(path.join(FLOAT_TINY, 'onnx', 'encoder_model.onnx'))).toBe(true);
  const warnings: string[] = [];
  const engine = await loadWhisper(FLOAT_TINY, { threads: 2, executionProvider: 'cuda', precision: 'fp32', warn: (m) => warnings.push(m) });
  const r = await engine.transcribe(readWav(JFK));
  expect(wer(JFK_REFERENCE, r.segments.map((s) => s.text).join(' '))).toBeLessThanOrEqual(0.1);
  // one line per session (encoder, decoder), each naming the fallback
  expect(warnings.length).toBeGreaterThan(0);
  for (const w of warnings) expect(w).toMatch(/CUDA execution provider unavailable .* using CPU/);
  await engine.model.release();
}, 60_000);

test('the float graphs dequantize.py made give the int8 text on jfk (CPU, temperature 0)', async () => {
  const texts: string[] = [];
  for (const [dir, precision] of [[TINY, 'int8'], [FLOAT_TINY, 'fp32']] as const) {
    const engine = await loadWhisper(dir, { threads: 2, executionProvider: 'cpu', precision });
    const r = await engine.transcribe(readWav(JFK), { fallback: false });
    texts.push(r.segments.map((s) => s.text).join(' '));
    await engine.model.release();
  }
  expect(texts[1]).toBe(texts[0]);
}, 60_000);

test("a CPU engine runs the model's default graphs (config/models.json cpuPrecision) and int8, fp32-encoder or fp32 when asked (WHISPER_CPU_PRECISION), without a warning", async () => {
  const results: { text: string; avgLogprob: number }[] = [];
  const warnings: string[] = [];
  for (const opts of [{}, { cpuPrecision: 'fp32' as const }, { precision: 'fp32' as const }, { cpuPrecision: 'int8' as const }, { cpuPrecision: 'fp32-encoder' as const }]) {
    const dir = 'precision' in opts ? FLOAT_TINY : TINY;
    const engine = await loadWhisper(dir, { threads: 2, executionProvider: 'cpu', warn: (m) => warnings.push(m), ...opts });
    const r = await engine.transcribe(readWav(JFK), { fallback: false });
    results.push({ text: r.segments.map((s) => s.text).join(' '), avgLogprob: r.segments[0]!.avgLogprob });
    await engine.model.release();
  }
  expect(warnings).toEqual([]);
  const [byDefault, asked, fp32, int8, fp32Encoder] = results;
  const graphs = { int8, 'fp32-encoder': fp32Encoder };
  const chosen = defaultCpuPrecision(TINY) as keyof typeof graphs;
  expect(Object.keys(graphs)).toContain(chosen);
  expect(byDefault).toEqual(graphs[chosen]);
  expect(asked).toEqual(fp32);
  // same words (the test above), other arithmetic: the log-probabilities tell the three graph sets apart
  const logprobs = new Set([fp32!.avgLogprob, int8!.avgLogprob, fp32Encoder!.avgLogprob]);
  expect(logprobs.size).toBe(3);
}, 120_000);

test('asked for fp32 without usable fp32 graphs, a CPU engine warns once per model and runs int8 one window per model run', async () => {
  const saved = process.env.FAIRSCRIBE_FLOAT_MODELS;
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-no-float-'));
  process.env.FAIRSCRIBE_FLOAT_MODELS = empty; // read when the model loads (engine/precision.ts floatModelsRoot)
  const warnings: string[] = [];
  try {
    const engine = await loadWhisper(TINY, { threads: 2, executionProvider: 'cpu', cpuPrecision: 'fp32', batching: { maxBatch: 4, maxWaitMs: 500 }, warn: (m) => warnings.push(m) });
    const results = await Promise.all([0, 1].map(() => engine.transcribe(readWav(JFK))));
    await engine.model.release();
    for (const r of results) {
      expect(r.batchSizes.every((b) => b === 1)).toBe(true);
      expect(wer(JFK_REFERENCE, r.segments.map((s) => s.text).join(' '))).toBeLessThanOrEqual(0.1);
    }
  } finally {
    if (saved === undefined) delete process.env.FAIRSCRIBE_FLOAT_MODELS;
    else process.env.FAIRSCRIBE_FLOAT_MODELS = saved;
    fs.rmSync(empty, { recursive: true, force: true });
  }
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/fp32 graphs .* unavailable for whisper-tiny\.en: .*built-from\.json does not exist.*float-models\.sh whisper-tiny\.en.*running its int8 graphs, one window per model run instead/);
}, 120_000);

// The < 50 ms goal is measured by `npm run bench:engine`; on a shared CI core the scheduler alone can
// add tens of ms, so this test asserts what blocking would break: a loop stalled for a whole run.
test('the engine thread keeps the event loop responsive during inference', async () => {
  const client = new EngineClient({ threads: 2, executionProvider: 'cpu' });
  await client.preload(TINY);
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const t0 = performance.now();
  const results = await Promise.all([0, 1].map(() => client.transcribe(TINY, readWav(JFK), { language: null, task: 'transcribe' })));
  const inferenceMs = performance.now() - t0;
  histogram.disable();
  await client.close();
  for (const r of results) expect(wer(JFK_REFERENCE, r.segments.map((s) => s.text).join(' '))).toBeLessThanOrEqual(0.1);
  const maxLagMs = histogram.max / 1e6;
  process.stderr.write(`[engine] worst event-loop lag ${maxLagMs.toFixed(1)} ms during ${inferenceMs.toFixed(0)} ms of inference\n`);
  // In-loop inference would stall the loop for a whole encoder run (measured: 851 ms of lag for an 860 ms encoder run).
  expect(maxLagMs).toBeLessThan(Math.min(250, inferenceMs / 4));
}, 60_000);

test('dynamic batching (fp32): concurrent chunks share one encoder run and one batched decode, with the texts of batch 1', async () => {
  // fp32 arithmetic never mixes batch rows, so batching is on; int8 runs one window per run (docs/models.md).
  const warnings: string[] = [];
  const client = new EngineClient({ threads: 2, executionProvider: 'cpu', cpuPrecision: 'fp32' }, (m) => warnings.push(m), () => ({ maxBatch: 4, maxWaitMs: 500 }));
  await client.preload(TINY);
  const jfk = readWav(JFK);
  // Four different inputs, so a row mix-up would show: jfk, its first and second halves, and silence+jfk.
  const half = Math.floor(jfk.length / 2);
  const padded = new Float32Array(SAMPLE_RATE * 3 + jfk.length);
  padded.set(jfk, SAMPLE_RATE * 3);
  const inputs = [jfk, jfk.slice(0, half), jfk.slice(half), padded];
  const single = await loadWhisper(TINY, { threads: 2, executionProvider: 'cpu', cpuPrecision: 'fp32' });
  const expected: string[] = [];
  for (const x of inputs) expected.push((await single.transcribe(x.slice())).segments.map((s) => s.text).join(' '));
  await single.model.release();

  const results = await Promise.all(inputs.map((x) => client.transcribe(TINY, x.slice(), { language: null, task: 'transcribe' })));
  await client.close();
  expect(warnings).toEqual([]);
  for (const r of results) expect(r.batchSizes).toEqual([4]);
  const texts = results.map((r) => r.segments.map((s) => s.text).join(' '));
  // batch-independent: each window's text is exactly its text alone
  expect(texts).toEqual(expected);
  expect(wer(JFK_REFERENCE, texts[0])).toBeLessThanOrEqual(0.1);
  expect(wer(JFK_REFERENCE, texts[3])).toBeLessThanOrEqual(0.1);
}, 120_000);

test('a cancelled transcription leaves the batch; the others complete', async () => {
  const client = new EngineClient({ threads: 2, executionProvider: 'cpu', cpuPrecision: 'fp32' }, undefined, () => ({ maxBatch: 3, maxWaitMs: 300 }));
  await client.preload(TINY);
  const ctl = new AbortController();
  const a = client.transcribe(TINY, readWav(JFK), { language: null, task: 'transcribe' });
  const b = client.transcribe(TINY, readWav(JFK), { language: null, task: 'transcribe' }, ctl.signal);
  setTimeout(() => ctl.abort(), 50);
  await expect(b).rejects.toThrow(/abort/i);
  const r = await a;
  await client.close();
  expect(r.batchSizes).toEqual([1]);
  expect(wer(JFK_REFERENCE, r.segments.map((s) => s.text).join(' '))).toBeLessThanOrEqual(0.1);
}, 60_000);

test('the decode loop gives the tokens of the plain JS loop it replaced (batch 2, both models): same tokens and no-speech probability, log-probabilities within 1e-4', async () => {
  // The loop before the pick graph (engine/pick.ts): copy each row, decoding rules, greedyPick in float64 JS.
  for (const dir of [TINY, BASE]) {
    const engine = await loadWhisper(dir, { threads: 2, executionProvider: 'cpu' });
    const model = engine.model;
    const decoder = (model as unknown as { decoder: ort.InferenceSession }).decoder;
    const samples = readWav(JFK);
    // two different windows in one batch: jfk, and jfk from 2 s on
    const features = new Float32Array(2 * 80 * 3000);
    logMelSpectrogram(samples, { out: features.subarray(0, 240_000) });
    logMelSpectrogram(samples.subarray(2 * SAMPLE_RATE), { out: features.subarray(240_000) });
    const hidden = await model.encode(features, 2);
    const prompt = model.vocab.prompt('en', 'transcribe');
    const got = await model.decode(hidden, [prompt, prompt]);

    const V = model.dims.vocabSize;
    const names = Array.from({ length: model.dims.layers }, (_, l) =>
      ['decoder', 'encoder'].flatMap((k) => ['key', 'value'].map((kv) => `past_key_values.${l}.${k}.${kv}`)),
    ).flat();
    const empty = new ort.Tensor('float32', new Float32Array(0), [2, model.dims.heads, 0, 64]);
    let past: Record<string, ort.Tensor> = Object.fromEntries(names.map((n) => [n, empty]));
    const rows = [0, 1].map(() => ({ tokens: [] as number[], sumLogprob: 0, done: false, noSpeechProb: 0 }));
    let ids = BigInt64Array.from([...prompt, ...prompt].map(BigInt));
    let len = prompt.length;
    const row = new Float32Array(V);
    // the loaded decoder carries the step graph (engine/step-graph.ts), whose input every run must feed; this loop reads
    // only `logits`, so a [1, 1] zero mask (the step graph's own outputs are not fetched)
    const noMask: Record<string, ort.Tensor> = decoder.inputNames.includes(SUPPRESS_MASK) ? { [SUPPRESS_MASK]: new ort.Tensor('float32', new Float32Array(1), [1, 1]) } : {};
    for (let step = 0; step < 224 && !rows.every((r) => r.done); step++) {
      const first = step === 0;
      const out = await decoder.run(
        { input_ids: new ort.Tensor('int64', ids, [2, len]), encoder_hidden_states: hidden, use_cache_branch: new ort.Tensor('bool', new Uint8Array([first ? 0 : 1]), [1]), ...past, ...noMask },
        ['logits', ...names.filter((n) => first || n.includes('.decoder.')).map((n) => n.replace('past_key_values', 'present'))],
      );
      const logits = out.logits.data as Float32Array;
      past = Object.fromEntries(names.map((n) => [n, !first && n.includes('.encoder.') ? past[n] : out[n.replace('past_key_values', 'present')]]));
      const next = new BigInt64Array(2);
      rows.forEach((r, b) => {
        if (first) {
          const scratch = new Float32Array(V);
          logSoftmax(logits.subarray((b * len + prompt.lastIndexOf(model.vocab.sot)) * V, (b * len + prompt.lastIndexOf(model.vocab.sot) + 1) * V), scratch);
          r.noSpeechProb = Math.exp(scratch[model.vocab.noSpeech]);
        }
        if (r.done) {
          next[b] = BigInt(model.vocab.eot);
          return;
        }
        row.set(logits.subarray((b * len + len - 1) * V, (b * len + len) * V));
        applyDecodingRules(row, r.tokens, model.vocab);
        const { token, logprob } = greedyPick(row);
        r.sumLogprob += logprob;
        if (token === model.vocab.eot) r.done = true;
        else r.tokens.push(token);
        next[b] = BigInt(token);
      });
      ids = next;
      len = 1;
    }
    for (let b = 0; b < 2; b++) {
      expect(got[b].tokens).toEqual(rows[b].tokens);
      expect(got[b].noSpeechProb).toBe(rows[b].noSpeechProb);
      expect(Math.abs(got[b].sumLogprob - rows[b].sumLogprob)).toBeLessThan(1e-4 * (rows[b].tokens.length + 1));
    }
    expect(got[0].tokens).not.toEqual(got[1].tokens);
    await model.release();
  }
}, 180_000);
