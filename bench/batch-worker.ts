/**
 * Child process of bench/batch.ts: one inference worker's engine (EngineClient → engine thread → dynamic
 * batcher, as workers/factory.ts builds it) under 8 concurrent 30 s chunks, for one model and maxBatch.
 * usage: tsx bench/batch-worker.ts '{"modelDir", "pcm", "maxBatch", "rounds", "threads", "allowSpinning"}'
 * Prints one "@@{json}" line: per round the wall time, the batch sizes seen and the worst event-loop lag of
 * this (the activity worker's) main thread; and the process's peak RSS.
 */
import * as fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EngineClient } from '../engine/client';
import { SAMPLE_RATE } from '../engine/constants';

const CONCURRENT = 8;
const CHUNK_S = 30;

async function main() {
  const opts = JSON.parse(process.argv[2]) as {
    modelDir: string;
    pcm: string;
    maxBatch: number;
    rounds: number;
    threads: number;
    allowSpinning: boolean;
  };
  const buf = fs.readFileSync(opts.pcm);
  const audio = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  // Eight different 30 s chunks (offsets 0, 0.35, 0.7 … s into the speech), so no two rows are identical.
  const chunk = (k: number) => {
    const from = Math.round(k * 0.35 * SAMPLE_RATE);
    return audio.slice(from, from + CHUNK_S * SAMPLE_RATE);
  };
  const engine = new EngineClient(
    { threads: opts.threads, executionProvider: 'cpu', allowSpinning: opts.allowSpinning },
    () => undefined,
    () => ({ maxBatch: opts.maxBatch, maxWaitMs: 50 }),
  );
  await engine.preload(opts.modelDir);
  const once = async () => {
    const t0 = performance.now();
    const rs = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, k) => engine.transcribe(opts.modelDir, chunk(k), { language: 'en', task: 'transcribe' })),
    );
    return { seconds: (performance.now() - t0) / 1000, batchSizes: rs.flatMap((r) => r.batchSizes), text: rs[0].segments.map((s) => s.text).join(' ') };
  };
  await once(); // warm-up: first runs allocate ORT's arenas
  const rounds: { seconds: number; batchSizes: number[]; maxLagMs: number }[] = [];
  let text = '';
  for (let r = 0; r < opts.rounds; r++) {
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const o = await once();
    h.disable();
    text = o.text;
    rounds.push({ seconds: o.seconds, batchSizes: o.batchSizes, maxLagMs: h.max / 1e6 });
  }
  await engine.close();
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`@@${JSON.stringify({ rounds, maxRssMB, audioSeconds: CONCURRENT * CHUNK_S, text })}\n`);
}

main().catch((err) => {
  process.stdout.write(`@@${JSON.stringify({ error: String(err?.stack ?? err) })}\n`);
  process.exit(1);
});
