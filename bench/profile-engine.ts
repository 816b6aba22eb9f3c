/**
 * `npx tsx bench/profile-engine.ts [--model whisper-tiny.en|whisper-base] [--precision int8|fp32-encoder|fp32] [--runs 5] [--threads 2] [--wait-idle 80]`
 *
 * Where our engine's time goes on jfk.flac ×3 (33 s), warm, batch 1, without touching engine/:
 *  1. end to end: `transcribe` with the encoder and decoder sessions' `run` wrapped in timers →
 *     log-mel, encoder per window, decoder first step (prompt + cross-attention cache), decoder ms per cached
 *     step (the decoding rules' forcing and the greedy pick run inside it: engine/step-graph.ts), and the rest (JS
 *     per token: tensors/feeds, the suppression mask, the first step's logits for the no-speech probability,
 *     tokenizer, segment bookkeeping); the setImmediate hops left (engine/ort-sync.ts: one per 50 ms of
 *     runs) and the main thread's CPU time outside the session runs (Linux);
 *  2. pieces in isolation: log-mel of one 30 s window; the engine's per-token JS on a real logits row (a greedy
 *     row: suppressionKey, suppressionMask; a row at a temperature: applyDecodingRules + greedyPick); a bare
 *     60-step greedy loop on the same kind of onnxruntime-node session (what `run` alone costs per step, plain
 *     decoder) in feeding and threading variants; the encoder alone;
 *  3. `transcribe` end to end over sessions made with other options (the decoder with the step graph, as
 *     node-loader.ts loads it), interleaved: node-loader.ts's (synchronous, engine/ort-sync.ts) against the public API's (a setImmediate per run), and intra_op.allow_spinning = 0 on the
 *     decoder only and on both sessions.
 * Medians of `--runs`; the 1-minute load average is printed next to every block (other processes share the
 * 2 cores). Compare with the bare-onnxruntime limit line of `npm run bench:engine` run in the same minute.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../common/config';
import { N_FRAMES, N_MELS, N_SAMPLES, SAMPLE_RATE } from '../engine/constants';
import { applyDecodingRules, argmax, greedyPick, suppressionKey, suppressionMask, suppressionMaskBase } from '../engine/decoding';
import { logMelSpectrogram } from '../engine/logmel';
import { WhisperModel, type ModelSession, type OrtModule } from '../engine/model';
import { loadWhisper } from '../engine/node-loader';
import type { CpuPrecision } from '../engine/precision';
import { createSyncSession, syncSessionFactory } from '../engine/ort-sync';
import { readFusedDecoder } from '../engine/step-graph-file';
import { WhisperTranscriber } from '../engine/transcriber';
import { WhisperVocab, type GenerationConfig } from '../engine/vocab';
import { loadNow, median, preparePcm, waitForIdle } from './lib';

type Run = (feeds: Record<string, ort.Tensor>, fetches?: string[]) => Promise<Record<string, ort.Tensor>>;
interface Session {
  run: Run;
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

function timeIt(n: number, f: () => void): number {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    f();
    t.push(performance.now() - s);
  }
  return median(t);
}

/** With --wait-idle P: before each timed run, wait (≤ 2 min) until the CPUs were P % idle for 2 s. */
let waitIdle = 0;
async function gate(): Promise<void> {
  if (waitIdle > 0) await waitForIdle(waitIdle, 120_000);
}

async function timeItAsync(n: number, f: () => Promise<unknown>): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    await gate();
    const s = performance.now();
    await f();
    t.push(performance.now() - s);
  }
  return median(t);
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'whisper-tiny.en' },
      runs: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
      'wait-idle': { type: 'string', default: '0' },
      // the CPU graphs to load (engine/precision.ts: int8, fp32-encoder, fp32); default: the model's service graphs
      precision: { type: 'string', default: '' },
    },
  });
  waitIdle = Number(values['wait-idle']);
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  const config = loadConfig();
  const modelDir = path.join(config.modelsDir, values.model!);
  const pcm = preparePcm(path.join(config.modelsDir, '..', 'audio', 'jfk.flac'), 3);
  const audioSeconds = pcm.samples.length / SAMPLE_RATE;
  const cfg = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
  const gen = JSON.parse(fs.readFileSync(path.join(modelDir, 'generation_config.json'), 'utf8')) as GenerationConfig;
  const vocab = new WhisperVocab(gen);
  const L: number = cfg.decoder_layers;
  const H: number = cfg.decoder_attention_heads;
  const D: number = cfg.d_model;
  console.log(`profile-engine  ${values.model}  jfk ×3 = ${audioSeconds.toFixed(1)} s  threads ${threads}  median of ${runs}`);
  console.log(`load average at start ${loadNow()}`);

  // ---------------------------------------------------------------- 1. end to end, sessions wrapped
  // as a CPU worker loads it: the service's spinning setting (INFERENCE_ALLOW_SPINNING) and graphs (or --precision)
  const engine = await loadWhisper(modelDir, {
    threads,
    executionProvider: 'cpu',
    allowSpinning: config.inferenceAllowSpinning,
    ...(values.precision ? { cpuPrecision: values.precision as CpuPrecision } : {}),
  });
  console.log(`block 1 runs the ${values.precision || 'service'} graphs, spinning ${config.inferenceAllowSpinning} (INFERENCE_ALLOW_SPINNING)`);
  const m = engine.model as unknown as { encoder: Session; decoder: Session };
  const enc = m.encoder;
  const dec = m.decoder;
  let rec = { enc: [] as number[], first: [] as number[], step: [] as number[], gc: [] as number[] };
  let lastLogits: Float32Array | null = null;
  // Linux: the main thread's CPU time (/proc/thread-self/schedstat: ns on CPU), which a loaded machine barely changes
  const threadCpuMs = (): number => {
    try {
      return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
    } catch {
      return NaN;
    }
  };
  // Every session run is timed here (wall and main-thread CPU): engine/ort-sync.ts's sessions run the native call
  // inside run() itself, so these are the native calls (inputs wrapped, onnxruntime's Run, every fetched output
  // copied into a new ArrayBuffer), plus the setImmediate hop of the runs that still take one (one per 50 ms of runs;
  // every run on the public API).
  let split = { native: 0, nativeCpu: 0, calls: 0, hop: 0, hops: 0 };
  const timed = (run: Run, after: (ms: number, feeds: Record<string, ort.Tensor>, out: Record<string, ort.Tensor>) => void): Run => async (feeds, fetches) => {
    const c = threadCpuMs();
    const s = performance.now();
    const out = await run(feeds, fetches);
    const t = performance.now() - s;
    split.native += t;
    split.nativeCpu += threadCpuMs() - c;
    split.calls++;
    after(t, feeds, out);
    return out;
  };
  const encRun = enc.run.bind(enc);
  const decRun = dec.run.bind(dec);
  enc.run = timed(encRun, (t) => rec.enc.push(t));
  dec.run = timed(decRun, (t, feeds, out) => {
    const first = (feeds.use_cache_branch.data as Uint8Array)[0] === 0;
    (first ? rec.first : rec.step).push(t);
    // a real logits row for block 2
    if (out.logits) lastLogits = out.logits.data as Float32Array;
  });
  // garbage-collection pauses of the main thread (perf_hooks 'gc' entries): onnxruntime-node copies every fetched
  // output into a new ArrayBuffer, and that external memory is what starts V8's collections here
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) rec.gc.push(e.duration);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  // the setImmediate hops (scheduled → callback), all of them: the sessions' and anything else's in transcribe()
  const realSetImmediate = globalThis.setImmediate;
  const timedSetImmediate = ((fn: (...a: unknown[]) => void, ...args: unknown[]) => {
    const scheduled = performance.now();
    return realSetImmediate(() => {
      split.hop += performance.now() - scheduled;
      split.hops++;
      fn(...args);
    });
  }) as unknown as typeof setImmediate;
  await engine.transcribe(pcm.samples, { language: 'en' }); // warm-up
  const rows: { total: number; enc: number; first: number; step: number; steps: number; windows: number; gc: number; gcs: number; hop: number; hops: number; native: number; cpuOutside: number; calls: number }[] = [];
  for (let i = 0; i < runs; i++) {
    await gate();
    rec = { enc: [], first: [], step: [], gc: [] };
    split = { native: 0, nativeCpu: 0, calls: 0, hop: 0, hops: 0 };
    globalThis.setImmediate = timedSetImmediate;
    const c0 = threadCpuMs();
    const s = performance.now();
    await engine.transcribe(pcm.samples, { language: 'en' });
    const total = performance.now() - s;
    const cpu = threadCpuMs() - c0;
    await new Promise((r) => setImmediate(r)); // the observer's entries of this run are delivered
    globalThis.setImmediate = realSetImmediate;
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    rows.push({
      total, enc: sum(rec.enc), first: sum(rec.first), step: sum(rec.step), steps: rec.step.length, windows: rec.enc.length,
      gc: sum(rec.gc), gcs: rec.gc.length,
      hop: split.hop, hops: split.hops, native: split.native, cpuOutside: cpu - split.nativeCpu, calls: split.calls,
    });
  }
  const logitsRow = new Float32Array(lastLogits!.subarray(lastLogits!.length - cfg.vocab_size));
  const feats = new Float32Array(N_MELS * N_FRAMES);
  const window0 = pcm.samples.subarray(0, N_SAMPLES);
  const melMs = timeIt(runs, () => logMelSpectrogram(window0, { out: feats }));
  const med = (f: (r: (typeof rows)[number]) => number) => median(rows.map(f));
  const W = rows[0].windows;
  const S = rows[0].steps;
  const total = med((r) => r.total);
  const encT = med((r) => r.enc);
  const firstT = med((r) => r.first);
  const stepT = med((r) => r.step);
  const gcT = med((r) => r.gc);
  const rest = med((r) => r.total - r.enc - r.first - r.step) - W * melMs;
  console.log(`\n1. transcribe() end to end (load ${loadNow()}): ${ms(total)} for ${audioSeconds.toFixed(1)} s, RTFx ${(audioSeconds / (total / 1000)).toFixed(1)}`);
  console.log(`   windows ${W}, decoder runs ${W} first + ${S} cached steps`);
  const pct = (x: number) => `${((100 * x) / total).toFixed(0)}%`;
  console.log(`   log-mel          ${W} × ${ms(melMs)} = ${ms(W * melMs)}  ${pct(W * melMs)}  (measured alone, block 2)`);
  console.log(`   encoder run      ${ms(encT)} = ${ms(encT / W)} per window  ${pct(encT)}`);
  console.log(`   decoder 1st run  ${ms(firstT)} = ${ms(firstT / W)} per window (prompt + cross-attention K/V)  ${pct(firstT)}`);
  // the decoder carries the step graph (engine/step-graph.ts): the rules' forcing and the greedy pick are inside run()
  console.log(`   decoder steps    ${ms(stepT)} = ${ms(stepT / S)} per step (run() alone, the in-graph rules and pick included)  ${pct(stepT)}`);
  console.log(`   rest (JS)        ${ms(rest)} = ${ms(rest / (S + W))} per token  ${pct(rest)}`);
  console.log(`   GC pauses        ${ms(gcT)} in ${med((r) => r.gcs)} collections (main thread, perf_hooks; inside the rows above)  ${pct(gcT)}`);
  const hop = med((r) => r.hop);
  const native = med((r) => r.native);
  const cpuOutside = med((r) => r.cpuOutside);
  const hops = med((r) => r.hops);
  console.log(
    `   session runs     ${rows[0].calls} (encoder and decoder): ${ms(native)} inside run(), of which ${ms(hop)} in ${hops} setImmediate hops ` +
      `(${(((hop / Math.max(1, hops)) * 1000) || 0).toFixed(0)} us each); wall outside them ${ms(total - native)}`,
  );
  console.log(
    `   main-thread CPU outside the session runs: ${ms(cpuOutside)} = ${ms((cpuOutside - W * melMs) / (S + W))} per decoder run after the log-mel ` +
      `(/proc/thread-self/schedstat; barely load-dependent)`,
  );
  enc.run = encRun;
  dec.run = decRun;
  gcObserver.disconnect();

  // ---------------------------------------------------------------- 2. pieces in isolation
  console.log(`\n2. pieces in isolation (load ${loadNow()})`);
  console.log(`   log-mel of one 30 s window (JS): ${ms(melMs)}`);
  const row = new Float32Array(cfg.vocab_size);
  const sampled = [vocab.timestampBegin, 400, 1000]; // a timestamp then text, the usual state mid-segment
  const engineWay = () => {
    row.set(logitsRow);
    applyDecodingRules(row, sampled, vocab);
    return greedyPick(row).logprob;
  };
  for (let i = 0; i < 300; i++) engineWay(); // JIT warm-up
  const engineSampleMs = timeIt(Math.max(300, runs * 60), engineWay);
  console.log(`   per-token sampling, the JS path (rows at a temperature > 0; copy row + applyDecodingRules + greedyPick): ${engineSampleMs.toFixed(3)} ms`);
  {
    // its parts, each on a fresh copy of the same row
    const n = Math.max(300, runs * 60);
    const copyMs = timeIt(n, () => row.set(logitsRow));
    const rulesMs = timeIt(n, () => (row.set(logitsRow), applyDecodingRules(row, sampled, vocab))) - copyMs;
    applyDecodingRules(row, sampled, vocab);
    const pickMs = timeIt(n, () => greedyPick(row));
    const argmaxMs = timeIt(n, () => argmax(row));
    let sink = 0;
    const expMs = timeIt(n, () => {
      for (let i = 0; i < row.length; i++) sink += Math.exp(row[i]);
    });
    console.log(
      `     of which: copy ${copyMs.toFixed(3)}, applyDecodingRules ${rulesMs.toFixed(3)}, greedyPick ${pickMs.toFixed(3)} ` +
        `(one argmax pass ${argmaxMs.toFixed(3)}, one Math.exp pass over the vocab ${expMs.toFixed(3)}) ms${sink === 42 ? '' : ''}`,
    );
    // the per-step bookkeeping around run(): two new tensors, the feeds object, the next-past map
    const names = Array.from({ length: L }, (_, l) =>
      ['decoder', 'encoder'].flatMap((k) => ['key', 'value'].map((kv) => `past_key_values.${l}.${k}.${kv}`)),
    ).flat();
    const dummy = new ort.Tensor('float32', new Float32Array(0), [1, H, 0, 64]);
    const past0: Record<string, ort.Tensor> = Object.fromEntries(names.map((x) => [x, dummy]));
    const outs: Record<string, ort.Tensor> = Object.fromEntries(names.map((x) => [x.replace('past_key_values', 'present'), dummy]));
    const bookMs = timeIt(n, () => {
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', new BigInt64Array(1), [1, 1]),
        encoder_hidden_states: dummy,
        use_cache_branch: new ort.Tensor('bool', new Uint8Array([1]), [1]),
        ...past0,
      };
      const np: Record<string, ort.Tensor> = {};
      for (const name of Object.keys(past0)) np[name] = name.includes('.encoder.') ? past0[name] : outs[name.replace('past_key_values', 'present')];
      sink += Object.keys(feeds).length + Object.keys(np).length;
    });
    console.log(`     per-step feeds/past bookkeeping (2 tensors, feeds object, next-past map): ${bookMs.toFixed(3)} ms`);
  }
  {
    // greedy rows: the rules' state and, when it changed, the mask the decoder's step graph adds (engine/step-graph.ts)
    const base = suppressionMaskBase(vocab, cfg.vocab_size);
    const mask = new Float32Array(cfg.vocab_size);
    const n = Math.max(300, runs * 60);
    const keyMs = timeIt(n, () => suppressionKey(sampled, vocab));
    const maskMs = timeIt(n, () => suppressionMask(mask, sampled, vocab, base));
    console.log(`   per-token JS of a greedy row: suppressionKey ${keyMs.toFixed(4)} ms; suppressionMask when the key changed ${maskMs.toFixed(4)} ms`);
  }

  // bare decoder loop on the same kind of session (same options as engine/node-loader.ts)
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  const encS = await ort.InferenceSession.create(path.join(modelDir, 'onnx/encoder_model_quantized.onnx'), so);
  const decS = await ort.InferenceSession.create(path.join(modelDir, 'onnx/decoder_model_merged_quantized.onnx'), so);
  logMelSpectrogram(window0, { out: feats });
  const featT = new ort.Tensor('float32', feats, [1, N_MELS, N_FRAMES]);
  await encS.run({ input_features: featT });
  const encAlone = await timeItAsync(runs, () => encS.run({ input_features: featT }));
  const hidden = (await encS.run({ input_features: featT })).last_hidden_state;
  console.log(`   encoder run alone: ${ms(encAlone)} per 30 s window`);
  const pastNames = decS.inputNames.filter((n) => n.startsWith('past_key_values'));
  const selfOut = ['logits', ...pastNames.filter((n) => n.includes('.decoder.')).map((n) => n.replace('past_key_values', 'present'))];
  const tinyHidden = new ort.Tensor('float32', new Float32Array(D), [1, 1, D]);
  const decNoSpin = await ort.InferenceSession.create(path.join(modelDir, 'onnx/decoder_model_merged_quantized.onnx'), {
    ...so,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  type Variant = 'engine' | 'engine-no-spin' | 'small-hidden' | 'fetch-all' | 'with-sampling' | 'with-sampling-no-spin';
  const bareLoop = async (variant: Variant, steps = 60) => {
    const sess = variant.endsWith('no-spin') ? decNoSpin : decS;
    const sampling = variant.startsWith('with-sampling');
    const sampledSoFar: number[] = [];
    const empty = new ort.Tensor('float32', new Float32Array(0), [1, H, 0, 64]);
    let past: Record<string, ort.Tensor> = Object.fromEntries(pastNames.map((n) => [n, empty]));
    let ids = new ort.Tensor('int64', BigInt64Array.from(vocab.prompt('en', 'transcribe').map(BigInt)), [1, vocab.prompt('en', 'transcribe').length]);
    const stepTimes: number[] = [];
    for (let s = 0; s < steps; s++) {
      const first = s === 0;
      const t0 = performance.now();
      const feeds: Record<string, ort.Tensor> = {
        input_ids: ids,
        encoder_hidden_states: !first && variant === 'small-hidden' ? tinyHidden : hidden,
        use_cache_branch: new ort.Tensor('bool', new Uint8Array([first ? 0 : 1]), [1]),
        ...past,
      };
      const out = first || variant === 'fetch-all' ? await sess.run(feeds) : await sess.run(feeds, selfOut);
      const lg = out.logits.data as Float32Array;
      let next: number;
      if (sampling) {
        // the engine's per-token JS: copy the row, decoding rules, argmax, log-softmax
        row.set(lg.subarray(lg.length - cfg.vocab_size));
        applyDecodingRules(row, sampledSoFar, vocab);
        next = greedyPick(row).token;
        sampledSoFar.push(next);
      } else {
        next = argmax(lg.subarray(lg.length - cfg.vocab_size));
      }
      const np: Record<string, ort.Tensor> = {};
      for (const n of pastNames) np[n] = !first && n.includes('.encoder.') ? past[n] : out[n.replace('past_key_values', 'present')];
      past = np;
      ids = new ort.Tensor('int64', BigInt64Array.from([BigInt(next)]), [1, 1]);
      if (!first) stepTimes.push(performance.now() - t0);
    }
    return median(stepTimes);
  };
  await bareLoop('engine', 10);
  // variants interleaved (rep i runs every variant once, rotating who goes first), median per variant
  const variantsB = ['engine', 'engine-no-spin', 'small-hidden', 'fetch-all', 'with-sampling', 'with-sampling-no-spin'] as const;
  const per: Record<string, number[]> = Object.fromEntries(variantsB.map((v) => [v, []]));
  for (let i = 0; i < Math.max(5, runs); i++) {
    for (let j = 0; j < variantsB.length; j++) {
      const v = variantsB[(i + j) % variantsB.length];
      await gate();
      per[v].push(await bareLoop(v));
    }
  }
  for (const v of variantsB) {
    const what = {
      engine: 'as the engine feeds it (full encoder_hidden_states, fetch logits + self-attention cache)',
      'engine-no-spin': 'same, session with intra_op.allow_spinning = 0',
      'small-hidden': 'a [1,1,D] encoder_hidden_states on cached steps (the cache branch never reads it)',
      'fetch-all': 'fetching every output, the unchanged cross-attention cache included',
      'with-sampling': 'as the engine, plus its sampling JS per step (rules + greedyPick)',
      'with-sampling-no-spin': 'same with sampling, session with intra_op.allow_spinning = 0',
    }[v];
    console.log(`   bare 60-step greedy loop, ${what}: ${median(per[v]).toFixed(2)} ms/step`);
  }
  const encNoSpin = await ort.InferenceSession.create(path.join(modelDir, 'onnx/encoder_model_quantized.onnx'), {
    ...so,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  await encNoSpin.run({ input_features: featT });
  const encNoSpinMs = await timeItAsync(runs, () => encNoSpin.run({ input_features: featT }));
  console.log(`   encoder run alone, allow_spinning = 0: ${ms(encNoSpinMs)} per 30 s window`);

  // ---------------------------------------------------------------- 3. end to end with other session options
  // The engine's own classes over sessions made here (node-loader.ts makes them with the defaults), on the decoder with
  // the step graph appended as node-loader.ts loads it, and one row on the plain decoder (the rules and pick in JS).
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const readJson = (f: string) => JSON.parse(fs.readFileSync(path.join(modelDir, f), 'utf8'));
  const tokenizer = new Tokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json'));
  const dims = { dModel: D, heads: H, layers: L, vocabSize: cfg.vocab_size };
  const encSync = await createSyncSession(path.join(modelDir, 'onnx/encoder_model_quantized.onnx'), so);
  const fusedBytes = readFusedDecoder(path.join(modelDir, 'onnx/decoder_model_merged_quantized.onnx'), vocab.timestampBegin, L);
  const decSync = await createSyncSession(fusedBytes, so);
  const decSyncPlain = await createSyncSession(path.join(modelDir, 'onnx/decoder_model_merged_quantized.onnx'), so);
  const decF = await ort.InferenceSession.create(fusedBytes, so);
  const decFNoSpin = await ort.InferenceSession.create(fusedBytes, { ...so, extra: { session: { intra_op: { allow_spinning: '0' } } } });
  const syncOrt: OrtModule = { Tensor: ort.Tensor, InferenceSession: syncSessionFactory() };
  const variants: [string, ModelSession, ModelSession, OrtModule?][] = [
    ['sync sessions (node-loader.ts, ort-sync.ts)', encSync, decSync, syncOrt],
    ['sync, plain decoder (rules + pick in JS)', encSync, decSyncPlain, syncOrt],
    ['public API sessions, spinning on', encS, decF],
    ['allow_spinning = 0 on both sessions', encNoSpin, decFNoSpin],
  ];
  const e2e = variants.map(([name, e, d, m]) => ({
    name,
    t: new WhisperTranscriber(new WhisperModel(m ?? ort, e, d, vocab, dims), tokenizer),
    times: [] as number[],
  }));
  for (const v of e2e) await v.t.transcribe(pcm.samples, { language: 'en' });
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < e2e.length; j++) {
      const v = e2e[(i + j) % e2e.length];
      await gate();
      const s = performance.now();
      await v.t.transcribe(pcm.samples, { language: 'en' });
      v.times.push(performance.now() - s);
    }
  }
  console.log(`\n3. transcribe() end to end with other session options, interleaved (load ${loadNow()})`);
  for (const v of e2e) console.log(`   ${v.name.padEnd(42)} ${ms(median(v.times))}  (min ${ms(Math.min(...v.times))})`);
  console.log(`load average at end ${loadNow()}`);
  await Promise.all([encS.release(), decS.release(), decNoSpin.release(), encNoSpin.release(), encSync.release(), decSync.release(), decSyncPlain.release(), decF.release(), decFNoSpin.release(), engine.model.release()]);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
