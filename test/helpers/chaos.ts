/**
 * Shared pieces of the chaos tests (test/integration/chaos-*.test.ts): inference workers as child
 * processes, the invariants every run must keep (each chunk once, one charge per job, nothing left
 * reserved, no orphan blobs) and the one report line per test that the issue asks for.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { workflowIdFor, type Backend } from '../../common/constants';
import { utcDay } from '../../quota/keys';
import { appProcessEnv, submitFile, type TestApp } from './harness';
import { SHARED_MODELS } from './models';
import { segmentEventsOnStore, type StoredChunkRow } from '../../activities/chunk-results';
import { mergeChunkSegmentsByChunk } from '../../audio/transcript';

const SHARED_AUDIO = path.resolve(__dirname, '../../../shared/audio');

const ROOT = path.resolve(__dirname, '../..');

/** A models folder holding only whisper-tiny.en (links), so a worker preloads one model and starts fast. */
export function tinyOnlyModelsDir(dir: string): string {
  const models = path.join(dir, 'tiny-models');
  fs.mkdirSync(models, { recursive: true });
  const link = path.join(models, 'whisper-tiny.en');
  if (!fs.existsSync(link)) fs.symlinkSync(path.join(SHARED_MODELS, 'whisper-tiny.en'), link);
  return models;
}

export interface ChildWorker {
  child: ChildProcess;
  /** resolves once the worker logged that it polls its task queue */
  ready: Promise<void>;
  /** resolves with the exit code (null after a signal) */
  exited: Promise<number | null>;
}

/**
 * Starts `workers/<backend>.ts` as a child process against the app's services (its own config from
 * env, as in production); stdout and stderr are appended to `logFile`.
 */
export function spawnInferenceWorker(app: TestApp, backend: Backend, logFile: string, env: Record<string, string> = {}): ChildWorker {
  const entry = backend === 'cpu' ? 'cpu' : backend;
  // node itself with tsx as a loader, not the tsx CLI: the CLI runs the worker as its own child, so
  // a SIGKILL would kill only the wrapper and leave the worker polling.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers', `${entry}.ts`)], {
    cwd: ROOT,
    env: {
      ...appProcessEnv(app),
      WHISPER_EP: 'cpu',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = fs.createWriteStream(logFile, { flags: 'a' });
  child.stdout!.pipe(log, { end: false });
  let seen = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      log.write(b);
      seen = (seen + b.toString('utf8')).slice(-4096);
      if (seen.includes('"msg":"worker polling"')) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before polling; see ${logFile}`)));
  });
  ready.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => log.end());
  return { child, ready, exited };
}

/** SIGKILLs a child worker (if still alive) and waits for its exit. */
export async function killWorker(w: ChildWorker, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill(signal);
  return w.exited;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs` with `what`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // a store that is down right now: try again
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Job ids to their end status, read from Postgres (the truth the API serves). */
export async function waitForEnd(app: TestApp, ids: string[], timeoutMs: number): Promise<Map<string, string>> {
  const ended = new Map<string, string>();
  await until(
    `${ids.length} jobs to end`,
    async () => {
      const { rows } = await app.pool.query(`SELECT id, status FROM jobs WHERE id = ANY($1::uuid[])`, [ids]);
      for (const r of rows) if (['completed', 'failed', 'cancelled', 'expired'].includes(r.status)) ended.set(r.id, r.status);
      return ended.size === ids.length;
    },
    timeoutMs,
    500,
  );
  return ended;
}

/** Chunk results stored so far for `ids`. */
export async function storedChunks(app: TestApp, ids: string[]): Promise<number> {
  return (await app.pool.query('SELECT count(*)::int AS n FROM chunk_results WHERE job_id = ANY($1::uuid[])', [ids])).rows[0].n;
}

/**
 * Submits `jobs` premium jobs of jfk ×3 (33 s, tiny.en, English) and waits until work is under way (the first
 * chunk result stored), so an outage that follows hits jobs in flight.
 * @returns the job ids and how many had already completed at that moment
 */
export async function submitUntilUnderWay(app: TestApp, tmp: string, jobs: number): Promise<{ ids: string[]; completedBefore: number }> {
  const file = path.join(tmp, 'jfk-x3.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '2', '-i', path.join(SHARED_AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', file]);
  const { apiKey } = await app.user('premium');
  const ids: string[] = [];
  for (let i = 0; i < jobs; i++) {
    const res = await submitFile(app.url, apiKey, file, { model: 'whisper-tiny.en', language: 'en' });
    if (res.status !== 202) throw new Error(`submission ${i} answered ${res.status}: ${await res.text()}`);
    ids.push(((await res.json()) as { id: string }).id);
  }
  await until('the first chunk result', async () => (await storedChunks(app, ids)) > 0, 180_000, 100);
  const { rows } = await app.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'completed'`, [ids]);
  return { ids, completedBefore: rows[0].n };
}

export interface Invariants {
  /** chunk attempts beyond the first (Temporal history: attempt numbers and re-scheduled chunks) */
  chunksRetried: number;
  /** jobs with more than one charge row, plus users whose Redis charge differs from the ledger's */
  doubleCharges: number;
  /** problems found; the test expects none */
  problems: string[];
}

/**
 * Checks what every chaos run must keep, for jobs that ended:
 * - completed: one stored result per planned chunk (indexes 0..n-1), each chunk's segments of the final merge
 *   announced exactly once as SSE events, and the transcript is the chunks' text in order (nothing doubled);
 * - ended otherwise: each stored chunk whose merge neighbours were stored announced exactly once, no other;
 * - every job: at most one charge row (exactly one when completed), nothing left reserved (ledger and
 *   Redis), the Redis day counter equal to the ledger's charges, and no blobs left;
 * and counts chunk retries from each workflow's history.
 */
export async function checkInvariants(app: TestApp, temporal: Client, jobs: Map<string, string>): Promise<Invariants> {
  const problems: string[] = [];
  let chunksRetried = 0;
  let doubleCharges = 0;
  const ids = [...jobs.keys()];
  const { rows: jobRows } = await app.pool.query(
    `SELECT id, user_id, status, chunks_total, text, billed_seconds FROM jobs WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  const users = new Set<string>();
  for (const job of jobRows) {
    users.add(job.user_id);
    const { rows: chunks } = await app.pool.query<StoredChunkRow>(
      `SELECT chunk_index, start_s, end_s, segments, overlap_prev, overlap_next FROM chunk_results WHERE job_id = $1 ORDER BY chunk_index`,
      [job.id],
    );
    const { rows: segEvents } = await app.pool.query(
      `SELECT (data->>'chunk')::int AS chunk, count(*)::int AS n FROM job_events WHERE job_id = $1 AND type = 'segment' GROUP BY 1`,
      [job.id],
    );
    const announced = new Map(segEvents.map((r) => [r.chunk as number, r.n as number]));
    // What each stored chunk must have announced, once: for a completed job its segments of the final merge;
    // otherwise those of the chunks whose merge neighbours were all stored (activities/chunk-results.ts
    // segmentEventsOnStore: a chunk's events wait for its previous chunk and an overlapping next one).
    const due = new Map<number, number>();
    if (job.status === 'completed') {
      const merged = mergeChunkSegmentsByChunk(chunks.map((c) => ({ index: c.chunk_index, start: c.start_s, end: c.end_s, segments: c.segments })), Infinity);
      for (const c of chunks) due.set(c.chunk_index, merged.filter((m) => m.chunk === c.chunk_index).length);
    } else {
      for (const c of chunks) due.set(c.chunk_index, segmentEventsOnStore(chunks, c.chunk_index).filter((e) => e.chunk === c.chunk_index).length);
    }
    for (const c of chunks) {
      if ((announced.get(c.chunk_index) ?? 0) !== due.get(c.chunk_index)) {
        problems.push(
          `job ${job.id} (${job.status}) chunk ${c.chunk_index}: ${c.segments.length} segments stored, ${due.get(c.chunk_index)} due, ${announced.get(c.chunk_index) ?? 0} announced`,
        );
      }
    }
    if (job.status === 'completed') {
      const indexes = chunks.map((c) => c.chunk_index);
      const expected = [...Array(job.chunks_total).keys()];
      if (JSON.stringify(indexes) !== JSON.stringify(expected)) problems.push(`job ${job.id}: chunks ${indexes} of ${job.chunks_total}`);
      const chunkText = chunks
        .flatMap((c) => (c.segments as { text: string }[]).map((s) => s.text.trim()))
        .filter(Boolean)
        .join(' ')
        .replace(/\s+/g, ' ');
      if ((job.text ?? '').trim().replace(/\s+/g, ' ') !== chunkText) problems.push(`job ${job.id}: transcript is not its chunks' text once, in order`);
    }
    const { rows: ledger } = await app.pool.query(`SELECT kind, seconds FROM usage_ledger WHERE job_id = $1`, [job.id]);
    const charges = ledger.filter((l) => l.kind === 'charge');
    if (charges.length > 1) doubleCharges++;
    if (job.status === 'completed' && (charges.length !== 1 || charges[0].seconds !== job.billed_seconds)) {
      problems.push(`job ${job.id}: charges ${JSON.stringify(charges)} for ${job.billed_seconds} billed seconds`);
    }
    if (job.status === 'cancelled' && charges.some((c) => c.seconds !== 0)) problems.push(`job ${job.id}: cancelled but charged`);
    if (!ledger.some((l) => l.kind === 'refund')) problems.push(`job ${job.id}: reservation never settled`);
    // The job reads `completed` a moment before its workflow deletes the audio: wait for the workflow.
    const handle = temporal.workflow.getHandle(workflowIdFor(job.id));
    await handle.result().catch(() => undefined);
    if (fs.existsSync(path.join(app.config.blobDir, job.id))) problems.push(`job ${job.id}: blobs left after it ended`);

    const history = await handle.fetchHistory();
    // Event ids are Longs: compare them as strings.
    const chunkScheduled = new Set<string>();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityType?.name === 'transcribeChunk') chunkScheduled.add(String(e.eventId));
      const st = e.activityTaskStartedEventAttributes;
      if (st && chunkScheduled.has(String(st.scheduledEventId))) chunksRetried += Math.max(0, (st.attempt ?? 1) - 1);
    }
    // A chunk moved to the fallback backend is scheduled a second time: a retry too.
    if (job.chunks_total !== null) chunksRetried += Math.max(0, chunkScheduled.size - job.chunks_total);
  }
  const day = utcDay();
  for (const userId of users) {
    const ledger = await app.deps.quota.usage(userId, day);
    const redis = await app.deps.quota.counters(userId, day);
    if (ledger.activeJobs !== 0 || redis.activeJobs !== 0) problems.push(`user ${userId}: reservations left (ledger ${ledger.activeJobs}, redis ${redis.activeJobs})`);
    if (ledger.reservedSeconds !== ledger.billedSeconds) problems.push(`user ${userId}: ${ledger.reservedSeconds} s reserved net, ${ledger.billedSeconds} s charged`);
    if (redis.usedSeconds !== ledger.billedSeconds) {
      doubleCharges++;
      problems.push(`user ${userId}: redis counts ${redis.usedSeconds} s, ledger charged ${ledger.billedSeconds} s`);
    }
  }
  return { chunksRetried, doubleCharges, problems };
}

/** The report line the issue asks for, on stderr (and appended to $CHAOS_REPORT when set). */
export function report(name: string, r: { submitted: number; completed: number; lost: number; chunksRetried: number; doubleCharges: number; wallMs: number; extra?: string }): void {
  const line = `[chaos] ${name}: submitted ${r.submitted} / completed ${r.completed} / lost ${r.lost}, chunks retried ${r.chunksRetried}, double charges ${r.doubleCharges}, wall ${(r.wallMs / 1000).toFixed(1)} s${r.extra ? `; ${r.extra}` : ''}\n`;
  process.stderr.write(line);
  if (process.env.CHAOS_REPORT) fs.appendFileSync(process.env.CHAOS_REPORT, line);
}
