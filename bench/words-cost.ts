/**
 * `npm run -s bench:words [-- --models whisper-tiny.en,whisper-base --runs 5 --threads 2 --min-long-s 300 --only long
 *  --skip-warmup --no-fw --fw-compute-type int8 --help]`
 *
 * What word timestamps cost the engine (issue #16: ≤ 15 % of engine time when asked, 0 % when not), on
 *  - jfk.flac three times (33 s, as bench/engine.ts),
 *  - a long-form file of ≥ 5 min (bench/long-form.ts: every reference file of ../shared/audio in turn with
 *    pauses of 1–6 s between them, as bench/eval-words.ts builds it), and
 *  - the same file after the pipeline's silence removal (audio/speech-spans.ts findSpeechSpans + compactAudio over
 *    Silero VAD, as eval:words' silence-removed row): what the service's engine is given,
 * per model: the same loaded engine (engine/node-loader.ts loadWhisper with the inference worker's options,
 * workers/factory.ts engineLoadOptions: the graphs of WHISPER_CPU_PRECISION, else the model's cpuPrecision in
 * config/models.json, i.e. tiny.en int8 and base's fp32 encoder; batch 1, greedy T = 0 only, onnxruntime
 * spinning as INFERENCE_ALLOW_SPINNING says, default off as the service) transcribes each file with
 * `wordTimestamps` off, on, and on with the timestamp seek (`wordSeek: false`: the same windows as off, so the
 * difference is the alignment alone; the difference between the two "on" runs is openai's word-based seek, which
 * starts the next window at the last word's end and so changes the windows), interleaved (round i runs all three,
 * rotating which goes first) so that load from other processes spreads over them; medians of N runs and the ratios
 * to off. Also per run with words: windows decoded, the decoder runs, the wall and CPU seconds inside
 * model.alignmentPass (the uncached decoder pass, the copy-out of the heads and the token probabilities) and the rest
 * of the alignment (engine/timing.ts findAlignment: normalisation, median filter, DTW; word splitting).
 * Beside ours, in the same rounds (the rotation takes five variants), faster-whisper 1.1.0 on the same float32 PCM
 * (bench/peers/faster_whisper_words.py in its serve mode, one process per model kept loaded: CTranslate2 int8 on the
 * original weights unless --fw-compute-type float32, the same threads, beam 1, temperature 0 only, no previous-text
 * conditioning, language en, no VAD) with `word_timestamps` False and True: its own cost of the same algorithm
 * (faster-whisper 1.1.0 transcribe.py also starts the next window at the last word's end), with its windows, decoder
 * runs (tokens generated plus one end token per window) and the time inside its find_alignment.
 * Times are seconds; the 1-minute load average is printed, as the machine may be shared, and the process's CPU
 * seconds (process.cpuUsage, every onnxruntime thread included) beside the wall-clock ones: on a loaded machine the
 * CPU ratio is the steadier measure of the work words add.
 *
 * Measured (#16, 2026-12-07, session 7, main 9671581 + this bench; `npm run -s bench:words -- --runs 3`, load 5.7–20.8
 * on 2 cores shared with four other helpers: wall ratios are noise at that load, CPU ratios are the measure; CPU on/off
 * medians, windows off/on/on-with-timestamp-seek, ours with the worker's graphs, faster-whisper 1.1.0 int8):
 *   model    case                        ours CPU on/off  ts seek  windows   decoder runs  | fw CPU on/off  windows  runs
 *   tiny.en  jfk×3 (3 rounds)            1.511×          1.432×   2/2/2     81/83         | 1.076×         2/2      84/82
 *   tiny.en  jfk×3 (9 rounds, load 18)   1.203×          1.267×   2/2/2     81/83         | 1.035×         2/2      84/82
 *   tiny.en  jfk×3 (9 rounds, load 8)    1.253×          1.314×   2/2/2     81/83         | 1.064×         2/2      84/82
 *   tiny.en  5.0 min, pauses             0.913×          1.122×   13/14/13  899/691 (a)   | 1.085×         12/12    703/662
 *   tiny.en  silence removed (3.8 min)   1.051×          1.141×   10/10/10  659/653       | 1.100×         9/9      637/629
 *   base     jfk×3 (3 rounds)            1.085×          1.082×   2/2/2     83/85         | 1.037×         2/2      83/81
 *   base     jfk×3 (9 rounds, load 20)   1.090×          1.078×   2/2/2     83/85         | 1.049×         2/2      83/81
 *   base     jfk×3 (9 rounds, load 8)    1.077×          1.127×   2/2/2     83/85         | 1.061×         2/2      83/81
 *   base     5.0 min, pauses             1.098×          1.100×   14/14/14  682/711       | 1.028×         13/12    618/656
 *   base     silence removed (3.8 min)   1.064×          1.065×   11/11/11  660/668       | 1.028×         9/9      650/649
 *   (a) words off decoded a repetition loop that the word seek's other window start avoided
 * The same command again at load 1.0–2.7 (09:49–09:59 UTC, the quietest run; CPU on/off, wall in brackets):
 *   tiny.en  jfk×3 1.267× (0.903×, per round 1.169×), 5.0 min pauses 1.046× (1.065×), silence removed 1.072× (1.097×);
 *            faster-whisper 1.057×, 0.998×, 1.020×
 *   base     jfk×3 1.080× (1.099×), 5.0 min pauses 1.070× (1.093×), silence removed 1.152× (1.173×; pass CPU 0.67 s,
 *            findAlignment JS 0.27 s); faster-whisper 1.034×, 1.046×, 1.022× (its find_alignment CPU 0.67 s)
 * The 1.27× of the earlier measurement (base, pauses: 12/15/12 windows) does not come back on this main: the word seek
 * adds no window there now (14/14/14), and faster-whisper's own word seek (transcribe.py: the same rule) took one window
 * fewer (13 → 12). Over the 15 % target: tiny.en on jfk×3 only (1.20–1.25× CPU over 9 rounds, faster-whisper 1.04–1.06×), where
 * the engine's own work is smallest (≈ 0.37 s CPU per window): the alignment pass (≈ 0.04 s CPU per window) and
 * findAlignment's JS (≈ 0.037 s per window in a --cpu-prof of that case: normalisation, median filter and DTW over
 * 8 heads × tokens × 1500 positions) are each about as much as faster-whisper's whole find_alignment in C++
 * (0.035 s per window).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { compactAudio, findSpeechSpans } from '../audio/speech-spans';
import { loadSileroVad, SileroVadStream } from '../audio/silero-vad';
import { loadConfig } from '../common/config';
import { SAMPLE_RATE } from '../engine/constants';
import { loadWhisper } from '../engine/node-loader';
import { defaultCpuPrecision } from '../engine/precision';
import { engineLoadOptions } from '../workers/factory';
import { buildLongForm, decodePcm } from './long-form';
import { BENCH_CACHE, loadNow, median, pad, padStart, PeerProcess, preparePcm, VENV_PYTHON } from './lib';

interface Sample {
  seconds: number;
  /** CPU seconds of this process (all its threads) during the run: less sensitive to other processes' load */
  cpuSeconds: number;
  windows: number;
  decoderRuns: number;
  passSeconds: number;
  /** CPU seconds of the process inside model.alignmentPass (nothing else runs meanwhile: batch 1) */
  passCpuSeconds: number;
  alignSeconds: number;
}

/** ours: words off, on (word seek), on (timestamp seek); faster-whisper 1.1.0: word_timestamps False, True */
type Variant = 'off' | 'on' | 'onTs' | 'fwOff' | 'fwOn';
const OURS: Variant[] = ['off', 'on', 'onTs'];
const FW: Variant[] = ['fwOff', 'fwOn'];

async function main() {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      runs: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
      'min-long-s': { type: 'string', default: '300' },
      // only these cases (substring of the name: jfk, long, pauses, silence)
      only: { type: 'string', default: '' },
      // no warm-up pair before the timed rounds (a long case on a busy machine: each run is minutes)
      'skip-warmup': { type: 'boolean', default: false },
      // no faster-whisper rows
      'no-fw': { type: 'boolean', default: false },
      // faster-whisper's CTranslate2 compute type (int8 as the service's peer in bench:engine, or float32)
      'fw-compute-type': { type: 'string', default: 'int8' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      [
        'usage: npm run -s bench:words -- [options]',
        '  --models a,b      models (default whisper-tiny.en,whisper-base)',
        '  --runs N          timed rounds per case, each runs every variant (ours off/on/on with timestamp seek, faster-whisper off/on), rotating which goes first (default 5)',
        '  --threads N       intra-op threads (default 2)',
        '  --min-long-s S    length of the long-form case (default 300)',
        '  --only TEXT       only the cases whose name contains TEXT (jfk, long, pauses, silence)',
        '  --skip-warmup     no untimed off+on pair before the rounds',
        '  --no-fw           no faster-whisper word_timestamps False/True runs beside ours',
        '  --fw-compute-type T  int8 (default) | float32: faster-whisper\'s CTranslate2 compute type',
      ].join('\n'),
    );
    return;
  }
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const fwComputeType = values['fw-compute-type']!;
  if (fwComputeType !== 'int8' && fwComputeType !== 'float32') throw new Error(`--fw-compute-type must be int8 or float32, not ${fwComputeType}`);
  const withFw = !values['no-fw'];
  if (withFw && !fs.existsSync(VENV_PYTHON)) throw new Error(`no venv at ${VENV_PYTHON}: bash bench/setup-peers.sh (or --no-fw)`);
  const VARIANTS: Variant[] = withFw ? [...OURS, ...FW] : OURS;
  const config = loadConfig();
  const audioDir = path.join(config.modelsDir, '..', 'audio');
  const refs = fs
    .readdirSync(audioDir)
    .filter((f) => /\.(wav|flac|mp3|ogg|m4a)$/i.test(f))
    .sort()
    .map((f) => ({ name: f, samples: decodePcm(path.join(audioDir, f)) }));
  const long = buildLongForm(refs, Number(values['min-long-s']));
  // the service's input: the long file after silence removal (Silero VAD spans, as eval:words)
  const vad = new SileroVadStream(await loadSileroVad());
  const probs = [...(await vad.push(long.withPauses.samples)), ...(await vad.finish())];
  const compacted = compactAudio(long.withPauses.samples, findSpeechSpans(probs, long.withPauses.samples.length));
  const cases = [
    { name: 'jfk×3', samples: preparePcm(path.join(audioDir, 'jfk.flac'), 3).samples },
    { name: `long ${(long.withPauses.samples.length / SAMPLE_RATE / 60).toFixed(1)} min, pauses`, samples: long.withPauses.samples },
    { name: `long, silence removed (${(compacted.length / SAMPLE_RATE / 60).toFixed(1)} min)`, samples: compacted },
  ].filter((c) => !values.only || c.name.includes(values.only));
  // faster-whisper reads the same float32 PCM from files
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'words-cost-'));
  const pcmOf = new Map(
    cases.map((c, i) => {
      const p = path.join(tmp, `${i}.f32`);
      fs.writeFileSync(p, Buffer.from(c.samples.buffer, c.samples.byteOffset, c.samples.byteLength));
      return [c.samples, p] as const;
    }),
  );

  console.log(
    `bench:words  word timestamps off vs on (word seek) vs on (timestamp seek), same engine` +
      `${withFw ? `, beside faster-whisper ${fwComputeType} word_timestamps False vs True` : ''}, interleaved, ${runs} runs, threads ${threads}, ` +
      `greedy T=0, onnxruntime spinning ${config.inferenceAllowSpinning}`,
  );
  console.log(`load average at start ${loadNow()}; ${os.cpus().length} CPUs`);
  const summary: string[] = [];
  for (const model of values.models!.split(',')) {
    // the inference worker's load options (workers/factory.ts engineLoadOptions: WHISPER_CPU_PRECISION, else the
    // model's cpuPrecision of config/models.json; weights; spinning), on the CPU with this bench's threads
    const modelDir = path.join(config.modelsDir, model);
    const engine = await loadWhisper(modelDir, { ...engineLoadOptions(config), threads, executionProvider: 'cpu', warn: (w) => console.log(`warning: ${w}`) });
    const graphs = config.cpuPrecision ?? defaultCpuPrecision(modelDir);
    const fw = withFw
      ? new PeerProcess(VENV_PYTHON, [
          path.join(__dirname, 'peers', 'faster_whisper_words.py'),
          JSON.stringify({ ct2Dir: path.join(BENCH_CACHE, 'ct2', model), threads, language: 'en', computeType: fwComputeType, serve: true }),
        ], { ...process.env, HF_HUB_OFFLINE: '1' })
      : null;
    if (fw) {
      const ready = await fw.next();
      if (ready.error) throw new Error(`faster-whisper: ${ready.error}`);
    }
    // count decoder runs and time the alignment pass by wrapping them (the bench's own instrumentation)
    const m = engine.model as unknown as { decoder: { run: (...a: unknown[]) => Promise<unknown> }; alignmentPass: (...a: unknown[]) => Promise<unknown> };
    let decoderRuns = 0;
    let passSeconds = 0;
    let passCpuSeconds = 0;
    const decRun = m.decoder.run.bind(m.decoder);
    m.decoder.run = (...a) => (decoderRuns++, decRun(...a));
    const pass = m.alignmentPass.bind(engine.model);
    m.alignmentPass = async (...a) => {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      try {
        return await pass(...a);
      } finally {
        passSeconds += (performance.now() - t0) / 1000;
        const c = process.cpuUsage(c0);
        passCpuSeconds += (c.user + c.system) / 1e6;
      }
    };
    const once = async (samples: Float32Array, variant: Variant): Promise<Sample> => {
      if (variant === 'fwOff' || variant === 'fwOn') {
        const r = await fw!.request(`words ${pcmOf.get(samples)} ${variant === 'fwOn' ? 1 : 0}`);
        if (r.error) throw new Error(`faster-whisper: ${r.error}`);
        const n = (k: string) => Number(r[k]);
        // decoder runs: CTranslate2 runs its decoder once per generated token and once for the end token
        return { seconds: n('seconds'), cpuSeconds: n('cpuSeconds'), windows: n('windows'), decoderRuns: n('tokens') + n('windows'),
          passSeconds: n('alignSeconds'), passCpuSeconds: n('alignCpuSeconds'), alignSeconds: n('alignSeconds') };
      }
      decoderRuns = 0;
      passSeconds = 0;
      passCpuSeconds = 0;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const r = await engine.transcribe(samples, {
        language: 'en',
        task: 'transcribe',
        fallback: false,
        wordTimestamps: variant !== 'off',
        wordSeek: variant !== 'onTs',
      });
      const seconds = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const align = (r.alignmentSeconds ?? []).reduce((a, b) => a + b, 0);
      return { seconds, cpuSeconds: (c.user + c.system) / 1e6, windows: r.windows, decoderRuns, passSeconds, passCpuSeconds, alignSeconds: align };
    };
    console.log('');
    console.log(`${model}  (ours: ${graphs} graphs, as the inference worker loads them${fw ? `; faster-whisper ${fwComputeType} on ${path.join(BENCH_CACHE, 'ct2', model)}` : ''})`);
    const head =
      `${pad('case', 34)}${padStart('off s', 8)}${padStart('on s', 8)}${padStart('on/off', 8)}${padStart('onTs/off', 9)}` +
      `${padStart('win off', 8)}${padStart('on', 4)}${padStart('onTs', 5)}${padStart('runs off', 9)}${padStart('on', 5)}` +
      `${padStart('pass s', 8)}${padStart('pass cpu', 9)}${padStart('js s', 7)}  load`;
    console.log(head);
    console.log('-'.repeat(head.length));
    for (const c of cases) {
      if (!values['skip-warmup']) for (const v of VARIANTS) await once(c.samples, v); // warm-up
      const got: Record<Variant, Sample[]> = { off: [], on: [], onTs: [], fwOff: [], fwOn: [] };
      const loads: number[] = [];
      for (let i = 0; i < runs; i++) {
        loads.push(os.loadavg()[0]);
        // rotate which variant goes first
        for (let k = 0; k < VARIANTS.length; k++) {
          const v = VARIANTS[(i + k) % VARIANTS.length];
          got[v].push(await once(c.samples, v));
        }
        // each round as it ends: on a busy machine a long case may be stopped before the medians
        const [a, b, t] = [got.off[i], got.on[i], got.onTs[i]];
        console.log(
          `  round ${i + 1}: off ${a.seconds.toFixed(2)} s (CPU ${a.cpuSeconds.toFixed(2)}, ${a.windows} windows), on ${b.seconds.toFixed(2)} s ` +
            `(CPU ${b.cpuSeconds.toFixed(2)}, ${b.windows} windows, pass ${b.passSeconds.toFixed(2)} / CPU ${b.passCpuSeconds.toFixed(2)}, JS ${(b.alignSeconds - b.passSeconds).toFixed(2)}), ` +
            `on with timestamp seek ${t.seconds.toFixed(2)} s (CPU ${t.cpuSeconds.toFixed(2)}, ${t.windows} windows, pass CPU ${t.passCpuSeconds.toFixed(2)}), load ${loads[i].toFixed(1)}`,
        );
        if (fw) {
          const [fo, fn] = [got.fwOff[i], got.fwOn[i]];
          console.log(
            `           faster-whisper: off ${fo.seconds.toFixed(2)} s (CPU ${fo.cpuSeconds.toFixed(2)}, ${fo.windows} windows), on ${fn.seconds.toFixed(2)} s ` +
              `(CPU ${fn.cpuSeconds.toFixed(2)}, ${fn.windows} windows, find_alignment ${fn.passSeconds.toFixed(2)} / CPU ${fn.passCpuSeconds.toFixed(2)})`,
          );
        }
      }
      const med = (v: Variant, f: (x: Sample) => number) => median(got[v].map(f));
      const mo = med('off', (x) => x.seconds);
      const mw = med('on', (x) => x.seconds);
      const mt = med('onTs', (x) => x.seconds);
      const line =
        `${pad(c.name, 34)}${padStart(mo.toFixed(2), 8)}${padStart(mw.toFixed(2), 8)}${padStart(`${(mw / mo).toFixed(3)}×`, 8)}${padStart(`${(mt / mo).toFixed(3)}×`, 9)}` +
        `${padStart(String(med('off', (x) => x.windows)), 8)}${padStart(String(med('on', (x) => x.windows)), 4)}${padStart(String(med('onTs', (x) => x.windows)), 5)}` +
        `${padStart(String(med('off', (x) => x.decoderRuns)), 9)}${padStart(String(med('on', (x) => x.decoderRuns)), 5)}` +
        `${padStart(med('on', (x) => x.passSeconds).toFixed(2), 8)}${padStart(med('on', (x) => x.passCpuSeconds).toFixed(2), 9)}` +
        `${padStart(med('on', (x) => x.alignSeconds - x.passSeconds).toFixed(2), 7)}  ${median(loads).toFixed(1)}`;
      console.log(line);
      if (fw) {
        const fo = med('fwOff', (x) => x.seconds);
        const fn = med('fwOn', (x) => x.seconds);
        console.log(
          `${pad('  faster-whisper (same file)', 34)}${padStart(fo.toFixed(2), 8)}${padStart(fn.toFixed(2), 8)}${padStart(`${(fn / fo).toFixed(3)}×`, 8)}${padStart('', 9)}` +
            `${padStart(String(med('fwOff', (x) => x.windows)), 8)}${padStart(String(med('fwOn', (x) => x.windows)), 4)}${padStart('', 5)}` +
            `${padStart(String(med('fwOff', (x) => x.decoderRuns)), 9)}${padStart(String(med('fwOn', (x) => x.decoderRuns)), 5)}` +
            `${padStart(med('fwOn', (x) => x.passSeconds).toFixed(2), 8)}${padStart(med('fwOn', (x) => x.passCpuSeconds).toFixed(2), 9)}${padStart('–', 7)}`,
        );
      }
      // per-round ratios too: each round's runs saw about the same load
      const perRound = (v: Variant, f: (x: Sample) => number, base: Variant = 'off') => median(got[v].map((x, i) => f(x) / f(got[base][i])));
      const cpu = (v: Variant) => med(v, (x) => x.cpuSeconds);
      summary.push(
        `${pad(model, 17)} ${pad(c.name, 34)} wall on/off ${(mw / mo).toFixed(3)}× (per round ${perRound('on', (x) => x.seconds).toFixed(3)}×), ` +
          `on with timestamp seek/off ${(mt / mo).toFixed(3)}× (per round ${perRound('onTs', (x) => x.seconds).toFixed(3)}×); ` +
          `CPU on/off ${(cpu('on') / cpu('off')).toFixed(3)}× (per round ${perRound('on', (x) => x.cpuSeconds).toFixed(3)}×), ` +
          `timestamp seek ${(cpu('onTs') / cpu('off')).toFixed(3)}× (per round ${perRound('onTs', (x) => x.cpuSeconds).toFixed(3)}×) ` +
          `(CPU off ${cpu('off').toFixed(2)}, on ${cpu('on').toFixed(2)}, onTs ${cpu('onTs').toFixed(2)} s; windows ${med('off', (x) => x.windows)}/${med('on', (x) => x.windows)}/${med('onTs', (x) => x.windows)})`,
      );
      if (fw) {
        summary.push(
          `${pad('', 17)} ${pad('  faster-whisper', 34)} wall on/off ${(med('fwOn', (x) => x.seconds) / med('fwOff', (x) => x.seconds)).toFixed(3)}× ` +
            `(per round ${perRound('fwOn', (x) => x.seconds, 'fwOff').toFixed(3)}×); CPU on/off ${(cpu('fwOn') / cpu('fwOff')).toFixed(3)}× ` +
            `(per round ${perRound('fwOn', (x) => x.cpuSeconds, 'fwOff').toFixed(3)}×) ` +
            `(CPU off ${cpu('fwOff').toFixed(2)}, on ${cpu('fwOn').toFixed(2)} s; windows ${med('fwOff', (x) => x.windows)}/${med('fwOn', (x) => x.windows)}, ` +
            `decoder runs ${med('fwOff', (x) => x.decoderRuns)}/${med('fwOn', (x) => x.decoderRuns)}; find_alignment CPU ${med('fwOn', (x) => x.passCpuSeconds).toFixed(2)} s)`,
        );
      }
    }
    await engine.model.release();
    await fw?.quit();
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log('');
  console.log(`summary (target on/off ≤ 1.15×; load average at end ${loadNow()}):`);
  for (const l of summary) console.log(`  ${l}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
