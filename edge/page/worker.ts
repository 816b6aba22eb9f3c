/**
 * The privacy-mode engine, in a Web Worker so the page stays responsive while onnxruntime-web runs.
 * It is the server's engine: the same log-mel, decoding rules, KV-cache loop and long-form windows
 * (engine/), on onnxruntime-web (WASM, SIMD; threads when the page is cross-origin isolated) instead
 * of onnxruntime-node. Model files are verified against the plan's sha256 before use.
 *
 * Speech detection is the server's too: Silero VAD v5 (the graph the service loads, served at /edge/vad/:
 * the sequence graph when setup built it, else the shipped file) through audio/silero-vad-stream.ts —
 * api/edge/bundle.ts maps its onnxruntime-node import to onnxruntime-web, whose Tensor and
 * InferenceSession have the same API — and the chunks are
 * planned, transcribed and merged as the service does (./speech.ts): no speech, no model run.
 */
import * as ort from 'onnxruntime-web/wasm';
import { Tokenizer } from '@huggingface/tokenizers';
import { WhisperModel, type OrtModule } from '../../engine/model';
import { fusedDecoderBytes } from '../../engine/step-graph';
import { WhisperTranscriber } from '../../engine/transcriber';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';
import { DECODER_FILE, ENCODER_FILE, dimsFromConfig, type WhisperConfigJson } from '../../engine/files';
import { transcriptText } from '../../audio/transcript';
import { SileroVadStream } from '../../audio/silero-vad-stream';
import { VadGainStream } from '../../audio/vad-gain';
import { concatSamples } from '../../audio/speech-spans';
import { transcribeSpeech } from './speech';
import type { FromWorker, PlanFile, ToWorker } from './protocol';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
let transcriber: WhisperTranscriber | null = null;
let vadSession: ort.InferenceSession | null = null;
/** Samples per VAD push: 30 s, so a long file is not copied into one more buffer. */
const VAD_BLOCK = 30 * 16000;

/** Hex sha256 of a buffer (WebCrypto). */
async function sha256Hex(buf: ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The file's path inside the model folder, from its URL (`…/models/<model>/<path>?v=…`). */
function pathOf(file: PlanFile, model: string): string {
  const u = new URL(file.url, self.location.href);
  const marker = `/${model}/`;
  return decodeURIComponent(u.pathname.slice(u.pathname.indexOf(marker) + marker.length));
}

/** Downloads every file, reporting bytes as they arrive; refuses any whose hash or size differs. */
async function download(files: PlanFile[]): Promise<ArrayBuffer[]> {
  const total = files.reduce((s, f) => s + f.bytes, 0);
  let loaded = 0;
  let lastReport = 0;
  return Promise.all(
    files.map(async (f) => {
      const res = await fetch(f.url);
      if (!res.ok || !res.body) throw new Error(`model file ${f.url}: HTTP ${res.status}`);
      const buf = new Uint8Array(f.bytes);
      let at = 0;
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.length > f.bytes) throw new Error(`model file ${f.url} is larger than the plan says`);
        buf.set(value, at);
        at += value.length;
        loaded += value.length;
        if (loaded - lastReport > 1_000_000 || loaded === total) {
          lastReport = loaded;
          post({ type: 'download', loadedBytes: loaded, totalBytes: total });
        }
      }
      if (at !== f.bytes) throw new Error(`model file ${f.url} is ${at} bytes, the plan says ${f.bytes}`);
      const hash = await sha256Hex(buf.buffer);
      if (hash !== f.sha256) throw new Error(`model file ${f.url} failed its integrity check (sha256 ${hash})`);
      return buf.buffer;
    }),
  );
}

async function load(msg: Extract<ToWorker, { type: 'load' }>): Promise<void> {
  ort.env.wasm.wasmPaths = msg.wasmPaths;
  // Threads need SharedArrayBuffer, which only a cross-origin-isolated page (COOP + COEP) has.
  ort.env.wasm.numThreads = self.crossOriginIsolated ? msg.numThreads : 1;
  ort.env.wasm.simd = true;
  const t0 = performance.now();
  const buffers = await download(msg.files);
  const byPath = new Map(msg.files.map((f, i) => [pathOf(f, msg.model), buffers[i]]));
  const need = (p: string) => {
    const b = byPath.get(p);
    if (!b) throw new Error(`the plan lacks ${p}`);
    return b;
  };
  const json = <T>(p: string): T => JSON.parse(new TextDecoder().decode(need(p))) as T;
  const t1 = performance.now();
  const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  const vadBytes = await fetch(msg.vadUrl).then((r) => {
    if (!r.ok) throw new Error(`the speech detector ${msg.vadUrl}: HTTP ${r.status}`);
    return r.arrayBuffer();
  });
  const vocab = new WhisperVocab(json<GenerationConfig>('generation_config.json'));
  const dims = dimsFromConfig(json<WhisperConfigJson>('config.json'));
  const [encoder, decoder, vad] = await Promise.all([
    ort.InferenceSession.create(new Uint8Array(need(ENCODER_FILE)), opts),
    // the server's decoder graph: the decoding rules and the greedy pick appended (engine/step-graph.ts), one run per token
    ort.InferenceSession.create(fusedDecoderBytes(new Uint8Array(need(DECODER_FILE)), vocab.timestampBegin, dims.layers), opts),
    ort.InferenceSession.create(new Uint8Array(vadBytes), opts),
  ]);
  vadSession = vad;
  const tokenizer = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
  const model = new WhisperModel(ort as unknown as OrtModule, encoder, decoder, vocab, dims);
  transcriber = new WhisperTranscriber(model, tokenizer);
  post({
    type: 'loaded',
    downloadMs: t1 - t0,
    downloadBytes: msg.files.reduce((s, f) => s + f.bytes, 0),
    sessionMs: performance.now() - t1,
    numThreads: ort.env.wasm.numThreads ?? 1,
  });
}

/** Silero VAD speech probabilities of the whole file, one per 512-sample frame (audio/silero-vad.ts). */
async function speechProbabilities(samples: Float32Array): Promise<Float32Array> {
  // The session's `run` takes onnxruntime-web tensors; the stream builds them with the aliased module.
  // levelled as the service's preparation levels it (audio/vad-gain.ts): quiet speech is not dropped here either
  const stream = new VadGainStream(new SileroVadStream(vadSession as never));
  const parts: Float32Array[] = [];
  for (let at = 0; at < samples.length; at += VAD_BLOCK) parts.push(await stream.push(samples.subarray(at, at + VAD_BLOCK)));
  parts.push(await stream.finish());
  return concatSamples(parts);
}

async function transcribe(msg: Extract<ToWorker, { type: 'transcribe' }>): Promise<void> {
  if (!transcriber || !vadSession) throw new Error('no model loaded');
  const engine = transcriber;
  const t0 = performance.now();
  const probs = await speechProbabilities(msg.samples);
  const vadMs = performance.now() - t0;
  const r = await transcribeSpeech(
    msg.samples,
    probs,
    (audio, chunk, progress) =>
      engine.transcribe(audio, {
        language: msg.language,
        wordTimestamps: msg.wordTimestamps === true,
        // Progress in seconds of speech; the window's segments on the file's time line for display.
        onWindow: (p) =>
          post({
            type: 'window',
            doneSeconds: Math.min(progress.totalSeconds, progress.doneSeconds + p.doneSeconds),
            totalSeconds: progress.totalSeconds,
            segments: p.segments.map((s) => ({ ...s, start: chunk.start + s.start, end: chunk.start + s.end })),
          }),
      }),
    msg.language ?? 'en',
  );
  const segments = r.segments.map((s) => ({ start: s.start, end: s.end, text: s.text, ...(s.words ? { words: s.words } : {}) }));
  post({
    type: 'done',
    text: transcriptText(segments),
    segments,
    language: r.language,
    inferenceMs: performance.now() - t0,
    vadMs,
    speechSeconds: r.speechSeconds,
    chunks: r.chunks,
  });
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const run = e.data.type === 'load' ? load(e.data) : transcribe(e.data);
  run.catch((err: Error) => post({ type: 'error', message: err?.message ?? String(err) }));
};
