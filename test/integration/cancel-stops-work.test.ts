/**
 * A cancelled job stops using the engine: the chunks it has waiting for the engine on a worker are not decoded.
 *
 * A worker takes all of a job's chunk activities at once (INFERENCE_CONCURRENCY) and admits them to the engine one at
 * a time (activities/engine-gate.ts). An activity learns of its cancellation only from a heartbeat's answer, and the
 * SDK sends heartbeats at most every 0.8 × heartbeatTimeout (24 s for chunks), so after a cancel the waiting chunks
 * kept being admitted and decoded one after another for up to 24 s (the `cancel` signal's workflow closes at once:
 * every chunk was decoded), their results thrown away at the store ("job … has ended; chunk N discarded") while other
 * users' chunks waited behind them.
 */
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { inferenceRtf } from '../../common/metrics';
import { submitFile, waitForJob } from '../helpers/harness';
import { fileApp } from '../helpers/file-app';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const env = fileApp('fs-cancel-stops-');

/** Chunks this process's inference worker has decoded so far (every model). */
async function chunksDecoded(): Promise<number> {
  const m = await inferenceRtf.get();
  return m.values.filter((v) => v.metricName === 'fairscribe_inference_rtf_count').reduce((a, v) => a + v.value, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('after a cancel, at most the chunk inside the engine is decoded; the waiting ones are not', async () => {
  // jfk 16 times: ~176 s of speech, 7+ chunks of ≤ 30 s, all taken by the worker at once
  const file = path.join(env.tmp, 'jfk-x16.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '15', '-i', path.join(AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', file]);
  const { apiKey } = await env.app.user('premium');
  const auth = { authorization: `Bearer ${apiKey}` };
  const res = await submitFile(env.app.url, apiKey, file, { model: 'whisper-tiny.en', language: 'en' });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  // Cancel once the first chunk is stored: the others are then waiting for the engine or inside it.
  for (let job: Record<string, any> = {}; !(job.progress?.chunksDone >= 1); await sleep(100)) {
    job = (await (await fetch(`${env.app.url}/v1/jobs/${id}`, { headers: auth })).json()) as Record<string, any>;
    expect(job.status).not.toBe('completed');
  }
  const total = ((await (await fetch(`${env.app.url}/v1/jobs/${id}`, { headers: auth })).json()) as any).progress.chunksTotal as number;
  const cancel = await fetch(`${env.app.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: auth });
  expect(cancel.status).toBe(202);
  expect((await waitForJob(env.app.url, apiKey, id, 60_000)).status).toBe('cancelled');
  const atCancel = await chunksDecoded();
  // Longer than the 24 s heartbeat throttle: by then every chunk activity has heard of the cancel.
  await sleep(30_000);
  const after = await chunksDecoded() - atCancel;
  process.stderr.write(`[cancel] ${total} chunks; decoded after the job was cancelled: ${after}\n`);
  expect(total).toBeGreaterThanOrEqual(5);
  expect(after).toBeLessThanOrEqual(1);
}, 180_000);
