/**
 * `npm run -s bench:words [-- --models whisper-tiny.en,whisper-base --runs 5 --threads 2 --min-long-s 300 --only long
 *  --skip-warmup --help]`
 *
 * What word timestamps cost the engine (issue #16: ≤ 15 % of engine time when asked, 0 % when not), on
 *  - jfk.flac three times (33 s, as bench/engine.ts), and
 *  - a long-form file of ≥ 5 min (bench/long-form.ts: every reference file of ../shared/audio in turn with
 *    pauses of 1–6 s between them, as bench/eval-words.ts builds it),
 * per model: the same loaded engine (engine/node-loader.ts loadWhisper, batch 1, greedy T = 0 only) transcribes
 * each file with `wordTimestamps` off and on, interleaved (round i runs both, alternating which goes first) so
 * that load from other processes spreads over both; medians of N runs and the ratio on / off. Also per run
 * with words: windows decoded (openai's word-based seek can move windows), the decoder runs, the seconds inside
 * model.alignmentPass (the uncached decoder pass and the copy-out of the heads) and the rest of the
 * alignment (engine/timing.ts findAlignment: normalisation, median filter, DTW; word splitting).
 * Times are seconds; the 1-minute load average is printed, as the machine may be shared, and the process's CPU
 * seconds (process.cpuUsage, every onnxruntime thread included) beside the wall-clock ones: on a loaded machine the
 * CPU ratio is the steadier measure of the work words add.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config';
import { SAMPLE_RATE } from '../engine/constants';
import { loadWhisper } from '../engine/node-loader';
import { buildLongForm, decodePcm } from './long-form';
import { loadNow, median, pad, padStart, preparePcm } from './lib';

interface Sample {
  seconds: number;
  /** CPU seconds of this process (all its threads) during the run: less sensitive to other processes' load */
  cpuSeconds: number;
  windows: number;
  decoderRuns: number;
  passSeconds: number;
  alignSeconds: number;
}

async function main() {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      runs: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
      'min-long-s': { type: 'string', default: '300' },
      // only these cases (substring of the name: jfk, long)
      only: { type: 'string', default: '' },
      // no warm-up pair before the timed rounds (a long case on a busy machine: each run is minutes)
      'skip-warmup': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      [
        'usage: npm run -s bench:words -- [options]',
        '  --models a,b      models (default whisper-tiny.en,whisper-base)',
        '  --runs N          timed rounds per case, each runs words off and on, alternating which goes first (default 5)',
        '  --threads N       intra-op threads (default 2)',
        '  --min-long-s S    length of the long-form case (default 300)',
        '  --only TEXT       only the cases whose name contains TEXT (jfk, long)',
        '  --skip-warmup     no untimed off+on pair before the rounds',
      ].join('\n'),
    );
    return;
  }
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const config = loadConfig();
  const audioDir = path.join(config.modelsDir, '..', 'audio');
  const refs = fs
    .readdirSync(audioDir)
    .filter((f) => /\.(wav|flac|mp3|ogg|m4a)$/i.test(f))
    .sort()
    .map((f) => ({ name: f, samples: decodePcm(path.join(audioDir, f)) }));
  const long = buildLongForm(refs, Number(values['min-long-s']));
  const cases = [
    { name: 'jfk×3', samples: preparePcm(path.join(audioDir, 'jfk.flac'), 3).samples },
    { name: `long ${(long.withPauses.samples.length / SAMPLE_RATE / 60).toFixed(1)} min, pauses`, samples: long.withPauses.samples },
  ].filter((c) => !values.only || c.name.includes(values.only));

  console.log(`bench:words  word timestamps off vs on, same engine, interleaved, ${runs} runs, threads ${threads}, greedy T=0`);
  console.log(`load average at start ${loadNow()}; ${os.cpus().length} CPUs`);
  const summary: string[] = [];
  for (const model of values.models!.split(',')) {
    const engine = await loadWhisper(path.join(config.modelsDir, model), { threads, executionProvider: 'cpu' });
    // count decoder runs and time the alignment pass by wrapping them (the bench's own instrumentation)
    const m = engine.model as unknown as { decoder: { run: (...a: unknown[]) => Promise<unknown> }; alignmentPass: (...a: unknown[]) => Promise<unknown> };
    let decoderRuns = 0;
    let passSeconds = 0;
    const decRun = m.decoder.run.bind(m.decoder);
    m.decoder.run = (...a) => (decoderRuns++, decRun(...a));
    const pass = m.alignmentPass.bind(engine.model);
    m.alignmentPass = async (...a) => {
      const t0 = performance.now();
      try {
        return await pass(...a);
      } finally {
        passSeconds += (performance.now() - t0) / 1000;
      }
    };
    const once = async (samples: Float32Array, words: boolean): Promise<Sample> => {
      decoderRuns = 0;
      passSeconds = 0;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const r = await engine.transcribe(samples, { language: 'en', task: 'transcribe', fallback: false, wordTimestamps: words });
      const seconds = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const align = (r.alignmentSeconds ?? []).reduce((a, b) => a + b, 0);
      return { seconds, cpuSeconds: (c.user + c.system) / 1e6, windows: r.windows, decoderRuns, passSeconds, alignSeconds: align };
    };
    console.log('');
    console.log(model);
    const head =
      `${pad('case', 22)}${padStart('off s', 8)}${padStart('on s', 8)}${padStart('on/off', 8)}${padStart('win off', 9)}${padStart('win on', 8)}` +
      `${padStart('runs off', 10)}${padStart('runs on', 9)}${padStart('pass s', 8)}${padStart('js s', 7)}  load`;
    console.log(head);
    console.log('-'.repeat(head.length));
    for (const c of cases) {
      if (!values['skip-warmup']) {
        await once(c.samples, false); // warm-up
        await once(c.samples, true);
      }
      const off: Sample[] = [];
      const on: Sample[] = [];
      const loads: number[] = [];
      for (let i = 0; i < runs; i++) {
        loads.push(os.loadavg()[0]);
        if (i % 2 === 0) {
          off.push(await once(c.samples, false));
          on.push(await once(c.samples, true));
        } else {
          on.push(await once(c.samples, true));
          off.push(await once(c.samples, false));
        }
        // each round as it ends: on a busy machine a long case may be stopped before the medians
        const [a, b] = [off[i], on[i]];
        console.log(
          `  round ${i + 1}: off ${a.seconds.toFixed(2)} s (CPU ${a.cpuSeconds.toFixed(2)}, ${a.windows} windows), on ${b.seconds.toFixed(2)} s ` +
            `(CPU ${b.cpuSeconds.toFixed(2)}, ${b.windows} windows, pass ${b.passSeconds.toFixed(2)}, JS ${(b.alignSeconds - b.passSeconds).toFixed(2)}), load ${loads[i].toFixed(1)}`,
        );
      }
      const mo = median(off.map((x) => x.seconds));
      const mw = median(on.map((x) => x.seconds));
      // per-round ratios too: each round's two runs saw about the same load
      const perRound = median(on.map((x, i) => x.seconds / off[i].seconds));
      const line =
        `${pad(c.name, 22)}${padStart(mo.toFixed(2), 8)}${padStart(mw.toFixed(2), 8)}${padStart(`${(mw / mo).toFixed(3)}×`, 8)}` +
        `${padStart(String(median(off.map((x) => x.windows))), 9)}${padStart(String(median(on.map((x) => x.windows))), 8)}` +
        `${padStart(String(median(off.map((x) => x.decoderRuns))), 10)}${padStart(String(median(on.map((x) => x.decoderRuns))), 9)}` +
        `${padStart(median(on.map((x) => x.passSeconds)).toFixed(2), 8)}${padStart(median(on.map((x) => x.alignSeconds - x.passSeconds)).toFixed(2), 7)}` +
        `  ${median(loads).toFixed(1)}`;
      console.log(line);
      const cpuOff = median(off.map((x) => x.cpuSeconds));
      const cpuOn = median(on.map((x) => x.cpuSeconds));
      summary.push(
        `${pad(model, 17)} ${pad(c.name, 20)} wall on/off ${(mw / mo).toFixed(3)}× (median of per-round ratios ${perRound.toFixed(3)}×; off ${off.map((x) => x.seconds.toFixed(2)).join(' ')}; on ${on.map((x) => x.seconds.toFixed(2)).join(' ')}); ` +
          `CPU on/off ${(cpuOn / cpuOff).toFixed(3)}× (${cpuOff.toFixed(2)} → ${cpuOn.toFixed(2)} s)`,
      );
    }
    await engine.model.release();
  }
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
