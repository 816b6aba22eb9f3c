/**
 * `npx tsx bench/edge.ts [--runs 3] [--models whisper-tiny.en,whisper-base] [--threads 1,2] [--screenshot docs/edge-page.png]`
 *
 * Privacy mode's in-browser engine against the cloud engine, on the same file (../shared/audio/jfk.flac,
 * 11 s), in one run. Not part of CI.
 *  - browser: Debian Chromium (headless, playwright-core) opens the edge page from a real plan (its own
 *    Postgres, Redis and Temporal in a temporary directory, the API and the orchestration worker in this
 *    process), with `?threads=N` forcing onnxruntime-web's `numThreads`; each run gets a fresh browser
 *    context, so the model is downloaded from the local API every time (size and time reported) and
 *    the sessions are created cold. RTF = the worker's transcription time (log-mel, encoder, decoding
 *    of every window; model download and session creation excluded) / audio seconds.
 *  - cloud: engine/node-loader.ts (onnxruntime-node, the same int8 files), intra-op threads = N, on the
 *    same audio decoded by ffmpeg to 16 kHz, warm, in this process.
 * Runs are interleaved (round i runs every configuration once) so other load on the machine spreads over
 * all of them; medians are printed with the 1-minute load average seen before each run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startApi } from '../api/server';
import { loadConfig, REPO_ROOT } from '../common/config';
import { openDeps } from '../common/deps';
import { createUser } from '../common/keys';
import { loadWhisper } from '../engine/node-loader';
import { startAll } from '../infra/services';
import { startOrchestrationWorker } from '../workers/factory';
import { createEdgeJob, JFK_REFERENCE } from '../test/helpers/edge';
import { wer } from '../test/helpers/wer';
import { load1, median, preparePcm } from './lib';

const JFK = path.resolve(REPO_ROOT, '..', 'shared', 'audio', 'jfk.flac');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface BrowserRun {
  downloadBytes: number;
  downloadMs: number;
  sessionMs: number;
  inferenceMs: number;
  audioSeconds: number;
  numThreads: number;
  wer: number;
  load: number;
}

async function main() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      threads: { type: 'string', default: '1,2' },
      screenshot: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  const models = values.models!.split(',');
  const threads = values.threads!.split(',').map(Number);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-bench-edge-'));
  const services = await startAll({ root, fresh: true, fast: true });
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: services.pg.url,
    REDIS_URL: services.redis.url,
    TEMPORAL_ADDRESS: services.temporal.address,
    BLOB_DIR: path.join(root, 'blobs'),
    API_PORT: '0',
    LOG_LEVEL: 'warn',
  });
  const deps = await openDeps(config);
  const worker = await startOrchestrationWorker(config, deps.pool, deps.quota);
  const api = await startApi(config, deps);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
  try {
    const { apiKey } = await createUser(deps.pool, 'premium', 'bench');
    const browserRuns = new Map<string, BrowserRun[]>();
    const cloudRuns = new Map<string, { ms: number; load: number }[]>();
    const { samples } = preparePcm(JFK, 1);
    const audioSeconds = samples.length / 16000;
    const cloud = new Map<string, Awaited<ReturnType<typeof loadWhisper>>>();
    for (const m of models) for (const n of threads) {
      cloud.set(`${m}/${n}`, await loadWhisper(path.join(config.modelsDir, m), { threads: n, executionProvider: 'cpu' }));
      await cloud.get(`${m}/${n}`)!.transcribe(samples.slice()); // warm
    }

    const runBrowser = async (model: string, n: number, shot?: string): Promise<BrowserRun> => {
      const job = await createEdgeJob(api.url, apiKey, { model, capabilities: JSON.stringify({ wasmSimd: true, wasmThreads: true, deviceMemoryGb: 8 }) });
      const url = new URL(job.edge.pageUrl);
      url.search = `?threads=${n}`;
      const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
      try {
        const page = await context.newPage();
        await page.goto(url.toString());
        await page.setInputFiles('#file', JFK);
        await page.locator('body[data-state="done"], body[data-state="error"]').waitFor({ timeout: 300_000 });
        const status = await page.locator('#status').textContent();
        if ((await page.getAttribute('body', 'data-state')) !== 'done') throw new Error(`page failed: ${status}`);
        const s = (await page.evaluate('window.edgeStats')) as Record<string, number>;
        if (shot) await page.screenshot({ path: shot, fullPage: true });
        const res = await fetch(`${api.url}/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${apiKey}` } });
        let body = (await res.json()) as { status: string; text?: string };
        for (let i = 0; i < 50 && body.status !== 'completed'; i++) {
          await new Promise((r) => setTimeout(r, 200));
          body = (await (await fetch(`${api.url}/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as typeof body;
        }
        return {
          downloadBytes: s.downloadBytes,
          downloadMs: s.downloadMs,
          sessionMs: s.sessionMs,
          inferenceMs: s.inferenceMs,
          audioSeconds: s.audioSeconds,
          numThreads: s.numThreads,
          wer: wer(JFK_REFERENCE, body.text ?? ''),
          load: 0,
        };
      } finally {
        await context.close();
      }
    };

    console.log(`edge vs cloud on ${path.basename(JFK)} (${audioSeconds.toFixed(1)} s), ${runs} interleaved rounds, ${os.cpus().length} CPUs`);
    for (let round = 0; round < runs; round++) {
      for (const m of models) {
        for (const n of threads) {
          const key = `${m}/${n}`;
          const l1 = load1();
          const b = await runBrowser(m, n, round === 0 && m === 'whisper-tiny.en' && n === threads.at(-1) ? values.screenshot : undefined);
          b.load = l1;
          if (!browserRuns.has(key)) browserRuns.set(key, []);
          browserRuns.get(key)!.push(b);
          const l2 = load1();
          const t0 = performance.now();
          await cloud.get(key)!.transcribe(samples.slice());
          const ms = performance.now() - t0;
          if (!cloudRuns.has(key)) cloudRuns.set(key, []);
          cloudRuns.get(key)!.push({ ms, load: l2 });
          console.log(
            `round ${round + 1} ${key}: browser ${(b.inferenceMs / 1000).toFixed(2)} s (download ${(b.downloadMs / 1000).toFixed(2)} s, sessions ${(b.sessionMs / 1000).toFixed(2)} s, threads ${b.numThreads}, WER ${b.wer.toFixed(3)}), cloud ${(ms / 1000).toFixed(2)} s; load ${l1.toFixed(1)}`,
          );
        }
      }
    }
    console.log('\nmodel            threads  download MB  download s  sessions s  browser RTF  cloud RTF  browser/cloud  load1 (median)');
    for (const [key, bs] of browserRuns) {
      const [m, n] = key.split('/');
      const cs = cloudRuns.get(key)!;
      const bRtf = median(bs.map((b) => b.inferenceMs / 1000 / b.audioSeconds));
      const cRtf = median(cs.map((c) => c.ms / 1000 / audioSeconds));
      console.log(
        `${m.padEnd(16)} ${n.padStart(7)}  ${(bs[0].downloadBytes / 1e6).toFixed(1).padStart(11)}  ${median(bs.map((b) => b.downloadMs / 1000)).toFixed(2).padStart(10)}  ${median(bs.map((b) => b.sessionMs / 1000)).toFixed(2).padStart(10)}  ${bRtf.toFixed(3).padStart(11)}  ${cRtf.toFixed(3).padStart(9)}  ${(bRtf / cRtf).toFixed(2).padStart(12)}×  ${median([...bs.map((b) => b.load), ...cs.map((c) => c.load)]).toFixed(1).padStart(6)}`,
      );
    }
  } finally {
    await browser.close();
    await api.close();
    await worker.stop();
    await deps.close();
    await services.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
