/**
 * `npm run -s backfill -- <dir | manifest.jsonl> [--max-in-flight N] [--json]`: submits a folder of
 * audio files (or the files a manifest names, one `{"path", "language"?}` per line) through the HTTP
 * API at `priorityClass=backfill`, so quotas, routing and fairness apply as to any client.
 *
 * - Throttled: at most N jobs of this run are queued or running at once (default 4); a 429
 *   `concurrency_limit` / `rate_limited` waits for its Retry-After and tries again.
 * - Resumable: each file's sha256 is looked up first (`GET /v1/jobs?contentSha256=`, the hash the
 *   API stored at admission, in Postgres): a completed job → skipped; a queued or running one (an
 *   earlier run that was interrupted) → waited for, not submitted again.
 * - Ctrl-C: no new uploads start; uploads under way finish, so every file is either a job with a
 *   known id or not submitted at all (admission is atomic); jobs already running go on, and the next
 *   run waits for them. A second Ctrl-C exits at once (the API discards an upload cut short).
 * - A progress bar (cli-progress) on stderr; the summary `{done, failed, skipped, audioHours, cost}`
 *   on stdout with --json (cost in USD: billed minutes × the backend's actual cost per minute).
 * The key comes from FAIRSCRIBE_API_KEY, else .data/stack.json; never from argv.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { failureSentence, helpRequested, parseArgsMessage } from './usage-error';
import { SingleBar, Presets } from 'cli-progress';
import { readStackFile, resolveApiTarget } from './stack-file';

const POLL_MS = 1_000;
const DEFAULT_MAX_IN_FLIGHT = 4;
/** Retry-After is honoured up to this (a quota that resets at midnight is a failure, not a wait). */
const MAX_WAIT_S = 60;
/** Server errors (5xx) are retried this many times before the file counts as failed. */
const SERVER_ERROR_RETRIES = 3;
/** Files a folder walk picks up: what ffmpeg reads among common audio and video containers. */
const MEDIA_EXT = /\.(wav|flac|mp3|m4a|aac|ogg|oga|opus|webm|mp4|mkv|mov|wma|aiff?|amr)$/i;
const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'expired']);

export interface BackfillItem {
  /** absolute path */
  path: string;
  language?: string;
}

export interface BackfillSummary {
  done: number;
  failed: number;
  skipped: number;
  /** audio of the jobs this run saw complete, hours */
  audioHours: number;
  /** USD for those jobs */
  cost: number;
}

/**
 * The files to submit: every media file under a folder (recursively, sorted, hidden ones left out),
 * or the lines of a `.jsonl` manifest (paths relative to the manifest's folder).
 * @throws Error for a missing source or a malformed manifest line (with its line number)
 */
export function listItems(source: string): BackfillItem[] {
  const abs = path.resolve(source);
  const st = fs.statSync(abs);
  if (st.isDirectory()) {
    const out: BackfillItem[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        if (e.name.startsWith('.')) continue;
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && MEDIA_EXT.test(e.name)) out.push({ path: p });
      }
    };
    walk(abs);
    return out;
  }
  const base = path.dirname(abs);
  return fs
    .readFileSync(abs, 'utf8')
    .split('\n')
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter(({ line }) => line !== '')
    .map(({ line, n }) => {
      let v: { path?: unknown; language?: unknown };
      try {
        v = JSON.parse(line);
      } catch {
        throw new Error(`${source}:${n}: not JSON`);
      }
      if (typeof v.path !== 'string' || (v.language !== undefined && typeof v.language !== 'string')) {
        throw new Error(`${source}:${n}: expected {"path": string, "language"?: string}`);
      }
      return { path: path.resolve(base, v.path), ...(v.language ? { language: v.language } : {}) };
    });
}

/** sha256 (hex) of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

type Job = { id: string; status: string; audioSeconds?: number | null; billedSeconds?: number | null; cost?: { actualPerMinute?: number | null }; error?: { message: string } };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface BackfillOptions {
  apiUrl: string;
  apiKey: string;
  maxInFlight: number;
  /** progress: called whenever a count changes */
  onProgress?: (s: BackfillSummary & { inFlight: number; settled: number }) => void;
  /** per-file problems, for stderr */
  onProblem?: (file: string, message: string) => void;
  /** set when the user asked to stop: no new uploads start */
  stopping?: () => boolean;
}

/**
 * Runs the backfill to the end (or until `stopping()`), returning the summary and how many jobs were
 * still running when it stopped early.
 */
export async function runBackfill(items: BackfillItem[], opts: BackfillOptions): Promise<BackfillSummary & { pending: number }> {
  const auth = { authorization: `Bearer ${opts.apiKey}` };
  const s: BackfillSummary = { done: 0, failed: 0, skipped: 0, audioHours: 0, cost: 0 };
  let inFlight = 0;
  let settled = 0;
  const progress = () => opts.onProgress?.({ ...s, inFlight, settled });
  const problem = (file: string, msg: string) => opts.onProblem?.(file, msg);

  const finish = (item: BackfillItem, job: Job) => {
    if (job.status === 'completed') {
      s.done++;
      s.audioHours += (job.audioSeconds ?? 0) / 3600;
      s.cost += ((job.billedSeconds ?? 0) / 60) * (job.cost?.actualPerMinute ?? 0);
    } else {
      s.failed++;
      problem(item.path, `job ${job.id} ${job.status}${job.error ? `: ${job.error.message}` : ''}`);
    }
  };

  /** Polls a job until it ends; network errors are retried (the API may restart). */
  const waitFor = async (id: string): Promise<Job> => {
    for (;;) {
      try {
        const r = await fetch(`${opts.apiUrl}/v1/jobs/${id}`, { headers: auth });
        if (r.ok) {
          const job = (await r.json()) as Job;
          if (TERMINAL.has(job.status)) return job;
        } else if (r.status === 404) {
          return { id, status: 'failed', error: { message: 'the job was deleted' } };
        } else if (r.status === 401 || r.status === 403) {
          // The key was revoked (or lost its rights) during the run: no later poll can succeed.
          const e = ((await r.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null)?.error;
          return { id, status: 'unknown', error: { message: `${r.status} ${e?.code ?? 'unauthorized'}: ${e?.message ?? 'the API key is no longer accepted'}` } };
        }
      } catch {
        // the API is unreachable for now
      }
      await sleep(POLL_MS);
    }
  };

  /** What the API already has for this content: a completed job, or one still under way. */
  const existing = async (hash: string): Promise<{ completed?: Job; active?: Job }> => {
    const r = await fetch(`${opts.apiUrl}/v1/jobs?contentSha256=${hash}&limit=100`, { headers: auth });
    if (!r.ok) throw new Error(`GET /v1/jobs answered ${r.status}`);
    const { data } = (await r.json()) as { data: Job[] };
    return { completed: data.find((j) => j.status === 'completed'), active: data.find((j) => !TERMINAL.has(j.status)) };
  };

  /** POSTs the file; returns the job id, or throws with the API's reason. */
  const submit = async (item: BackfillItem): Promise<string> => {
    for (let serverErrors = 0; ; ) {
      const form = new FormData();
      form.append('priorityClass', 'backfill');
      if (item.language) form.append('language', item.language);
      form.append('file', await fs.openAsBlob(item.path), path.basename(item.path));
      const r = await fetch(`${opts.apiUrl}/v1/jobs`, { method: 'POST', body: form, headers: auth });
      const body = (await r.json().catch(() => ({}))) as { id?: string; error?: { code: string; message: string } };
      if (r.status === 202 && body.id) return body.id;
      const wait = Number(r.headers.get('retry-after') ?? 5);
      const code = body.error?.code ?? String(r.status);
      if (r.status === 429 && (code === 'concurrency_limit' || code === 'rate_limited') && wait <= MAX_WAIT_S) {
        await sleep(wait * 1000);
        continue;
      }
      if (r.status >= 500 && serverErrors++ < SERVER_ERROR_RETRIES) {
        await sleep(Math.min(wait, MAX_WAIT_S) * 1000);
        continue;
      }
      throw new Error(`${r.status} ${code}: ${body.error?.message ?? 'no reason given'}`);
    }
  };

  let next = 0;
  const lane = async () => {
    while (next < items.length && !opts.stopping?.()) {
      const item = items[next++];
      let id: string;
      try {
        const known = await existing(await sha256File(item.path));
        if (known.completed) {
          s.skipped++;
          settled++;
          progress();
          continue;
        }
        if (known.active) id = known.active.id; // an interrupted run's job: wait for it, never resubmit
        else if (opts.stopping?.()) return;
        else id = await submit(item);
      } catch (err) {
        s.failed++;
        // fetch's own message ("fetch failed") does not say what it could not reach, nor that a server answered but not as the API.
        const msg = err instanceof TypeError && err.message === 'fetch failed' ? failureSentence(err, opts.apiUrl) : (err as Error).message;
        problem(item.path, msg);
        settled++;
        progress();
        continue;
      }
      inFlight++;
      progress();
      const job = await untilStopped(waitFor(id));
      // Ctrl-C: the job is submitted (its id known) and goes on; the next run waits for it.
      if (!job) return;
      inFlight--;
      finish(item, job);
      settled++;
      progress();
    }
  };

  /**
   * `work`'s result, or null as soon as the user asked to stop (checked every POLL_MS / 4). The watch ends with
   * `work`: a watch that looped on after its job ended (or forever, without `stopping`) kept the process alive.
   */
  const untilStopped = async <T>(work: Promise<T>): Promise<T | null> => {
    const stopping = opts.stopping;
    if (!stopping) return work;
    let over = false;
    const watch = (async () => {
      while (!over && !stopping()) await sleep(POLL_MS / 4);
      return null;
    })();
    try {
      return await Promise.race([work, watch]);
    } finally {
      over = true;
    }
  };

  progress();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.maxInFlight, items.length)) }, lane));
  return { ...s, audioHours: round(s.audioHours, 4), cost: round(s.cost, 6), pending: inFlight };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const USAGE = 'usage: npm run -s backfill -- <dir | manifest.jsonl> [--max-in-flight N] [--json]\n';

export async function main(argv = process.argv.slice(2)): Promise<number> {
  if (helpRequested(argv)) {
    process.stdout.write(USAGE);
    return 0;
  }
  let values: { 'max-in-flight'?: string; json?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'max-in-flight': { type: 'string' }, json: { type: 'boolean', default: false } },
    }));
  } catch (err) {
    // An unknown option is a usage error like the other CLIs': the sentence, then the usage.
    process.stderr.write(`backfill: ${parseArgsMessage(err)}\n${USAGE}`);
    return 2;
  }
  const usage = USAGE;
  const maxInFlight = values['max-in-flight'] === undefined ? DEFAULT_MAX_IN_FLIGHT : Number(values['max-in-flight']);
  // Each usage error says what is wrong before the usage (as transcribe and admin do), not the usage alone.
  if (positionals.length === 0) {
    process.stderr.write(usage);
    return 2;
  }
  if (positionals.length > 1) {
    process.stderr.write(`backfill: give one folder or manifest (got ${positionals.length})\n${usage}`);
    return 2;
  }
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
    process.stderr.write(`backfill: --max-in-flight must be a whole number of at least 1 (got '${values['max-in-flight']}')\n${usage}`);
    return 2;
  }
  if (!fs.existsSync(positionals[0])) {
    // listItems' statSync would say "ENOENT: no such file or directory, stat '<absolute path>'".
    process.stderr.write(`backfill: no such folder or manifest: ${positionals[0]}\n`);
    return 2;
  }
  if (MEDIA_EXT.test(positionals[0]) && fs.statSync(positionals[0]).isFile()) {
    // listItems would read it as a manifest and say "<file>:1: not JSON".
    process.stderr.write(`backfill: ${positionals[0]} is an audio file; give a folder or a .jsonl manifest (for one file, use npm run transcribe)\n`);
    return 2;
  }
  let items: BackfillItem[];
  try {
    items = listItems(positionals[0]);
  } catch (err) {
    process.stderr.write(`backfill: ${parseArgsMessage(err)}\n`);
    return 2;
  }
  const missing = items.filter((i) => !fs.existsSync(i.path));
  if (missing.length) {
    process.stderr.write(`backfill: no such file: ${missing.map((m) => m.path).join(', ')}\n`);
    return 2;
  }
  const { apiUrl, apiKey } = resolveApiTarget();

  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) {
      process.stderr.write('\nbackfill: stopping now\n');
      process.exit(130);
    }
    stopRequested = true;
    process.stderr.write('\nbackfill: finishing uploads under way, starting no more (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onSigint);

  const bar = new SingleBar(
    {
      format: 'backfill [{bar}] {value}/{total} files | done {done} failed {failed} skipped {skipped} | in flight {inFlight}',
      stream: process.stderr,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  bar.start(items.length, 0, { done: 0, failed: 0, skipped: 0, inFlight: 0 });
  const problems: string[] = [];
  const result = await runBackfill(items, {
    apiUrl,
    apiKey,
    maxInFlight,
    stopping: () => stopRequested,
    onProgress: (p) => bar.update(p.settled, { done: p.done, failed: p.failed, skipped: p.skipped, inFlight: p.inFlight }),
    onProblem: (file, msg) => problems.push(`${file}: ${msg}`),
  }).finally(() => bar.stop());
  process.off('SIGINT', onSigint);

  for (const p of problems) process.stderr.write(`backfill: ${p}\n`);
  const { pending, ...summary } = result;
  if (pending > 0) process.stderr.write(`backfill: interrupted; ${pending} job(s) still running; run again to wait for them\n`);
  if (values.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    process.stdout.write(
      `done ${summary.done}, failed ${summary.failed}, skipped ${summary.skipped}; ${summary.audioHours} h of audio, $${summary.cost}\n`,
    );
  }
  if (stopRequested) return 130;
  return summary.failed > 0 ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`backfill: ${failureSentence(err, process.env.FAIRSCRIBE_API_URL ?? readStackFile()?.apiUrl ?? null)}\n`);
      process.exit(1);
    },
  );
}
