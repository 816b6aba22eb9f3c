/**
 * `npx tsx bench/batch-sweep.ts [--model whisper-base] [--configs 2:50,4:50,8:50,8:50:nospin] [--rounds 3] [--threads 2]
 *    [--models-dir DIR]`
 *
 * A setting is `maxBatch:maxWaitMs[:nospin]`; `nospin` turns onnxruntime's intra-op spinning off (LoadOptions.allowSpinning).
 * `--models-dir` points at a folder of fp32 graphs only (bench:pipeline --precision fp32 makes one:
 * $TMPDIR/fairscribe-bench-fp32-models) to sweep the batched float graphs; the int8 graphs run one window per
 * model run whatever maxBatch says (engine/node-loader.ts int8Activations 'unbatched').
 *
 * Where bench:pipeline's chunks spend the engine's time, per batching setting: the same chunks as
 * `npm run bench:pipeline` (its ≥ 9-minute file, prepared by audio/prepare.ts) through the engine thread
 * (engine/client.ts → engine/batcher.ts), every chunk in flight at once as INFERENCE_CONCURRENCY 16 puts
 * them, once per `maxBatch:maxWaitMs` setting. Each setting has its own engine thread (model loaded once),
 * and the settings are run interleaved round by round (A B C, A B C, …) so that a shared machine's load
 * drifts over all of them alike; medians of `rounds` after one warm-up round. Prints the wall time, the
 * windows decoded and the mean windows per model run (how full the batches were). Outside CI; issue 18
 * (maxBatch and BATCH_MAX_WAIT_MS come from this measurement).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { preparePcm } from '../audio/prepare';
import { readChunkAudio } from '../audio/pcm-blob';
import { LocalBlobStore } from '../common/blobs';
import { EngineClient } from '../engine/client';
import { SAMPLE_RATE } from '../engine/constants';
import { loadNow, median } from './lib';

const MODELS = path.resolve(__dirname, '../../shared/models');
const AUDIO = path.join(os.tmpdir(), 'fairscribe-bench-pipeline', 'talk.flac');

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'whisper-tiny.en' },
      configs: { type: 'string', default: '8:50,8:0,8:200,4:50,16:50' },
      rounds: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '16' },
      'models-dir': { type: 'string', default: MODELS },
    },
  });
  if (!fs.existsSync(AUDIO)) throw new Error(`${AUDIO} missing: run npm run bench:pipeline once (it builds the file)`);
  const modelDir = path.join(values['models-dir']!, values.model!);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-sweep-'));
  const blobs = new LocalBlobStore(scratch);
  const key = 'sweep/audio.f32';
  const prepared = await preparePcm(AUDIO, blobs.prepare(key), { blockSamples: 30 * SAMPLE_RATE });
  const audios = await Promise.all(prepared.chunks.map((c) => readChunkAudio(blobs, key, c)));
  const configs = values.configs!.split(',').map((c) => {
    const [b, w, spin] = c.split(':');
    const [maxBatch, maxWaitMs] = [Number(b), Number(w)];
    const allowSpinning = spin !== 'nospin';
    return { label: `maxBatch ${maxBatch}, maxWait ${maxWaitMs} ms${allowSpinning ? '' : ', spinning off'}`, maxBatch, maxWaitMs, allowSpinning };
  });
  const threads = Number(values.threads);
  const concurrency = Number(values.concurrency);
  console.log(`batch sweep: ${modelDir}, ${prepared.chunks.length} chunks (${prepared.speechSeconds.toFixed(1)} s of speech), ${threads} threads, ${concurrency} in flight; load ${loadNow()}`);
  const engines = configs.map((c) => new EngineClient({ threads, executionProvider: 'cpu', ...(c.allowSpinning ? {} : { allowSpinning: false }) }, () => undefined, () => ({ maxBatch: c.maxBatch, maxWaitMs: c.maxWaitMs })));
  const times: number[][] = configs.map(() => []);
  const fill: { windows: number; runs: number }[] = configs.map(() => ({ windows: 0, runs: 0 }));
  const run = async (k: number, set = audios) => {
    let next = 0;
    let windows = 0;
    let runs = 0;
    const t0 = performance.now();
    const lane = async () => {
      while (next < set.length) {
        const i = next++;
        // a copy: the engine thread takes the buffer it is given (engine/client.ts transfers it)
        const r = await engines[k].transcribe(modelDir, set[i].slice(), { language: 'en', task: 'transcribe', fallback: false });
        windows += r.batchSizes.length;
        runs += r.batchSizes.reduce((s, b) => s + 1 / b, 0);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, set.length) }, lane));
    return { seconds: (performance.now() - t0) / 1000, windows, runs };
  };
  try {
    for (let k = 0; k < configs.length; k++) {
      await engines[k].preload(modelDir);
      await run(k, audios.slice(0, 8)); // warm-up: a full batch allocates onnxruntime's arenas
    }
    for (let r = 0; r < Number(values.rounds); r++) {
      for (let k = 0; k < configs.length; k++) {
        const x = await run(k);
        times[k].push(x.seconds);
        fill[k] = { windows: x.windows, runs: x.runs };
        console.log(`  round ${r + 1} ${configs[k].label}: ${x.seconds.toFixed(2)} s; load ${loadNow()}`);
      }
    }
    const base = median(times[0]);
    console.log(`\n| ${values.model} | median s | vs first | windows | mean windows per run |\n|---|---|---|---|---|`);
    configs.forEach((c, k) => {
      const m = median(times[k]);
      console.log(`| ${c.label} | ${m.toFixed(2)} | ${(m / base).toFixed(2)}× | ${fill[k].windows} | ${(fill[k].windows / fill[k].runs).toFixed(1)} |`);
    });
  } finally {
    await Promise.all(engines.map((e) => e.close()));
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
