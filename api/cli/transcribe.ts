/**
 * `npm run -s transcribe -- FILE [--segments] [--json]`: a thin client of the HTTP API.
 * stdout: the transcript text (and `[start → end] text` lines with --segments), or the final job
 * JSON with --json; progress goes to stderr. Exit codes: 0 completed, 1 the job did not complete, 2 a
 * usage error (unknown option, no file, a path that is not a readable file), 130 interrupted (Ctrl-C
 * cancels the job it started, so nothing keeps running or holding quota).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { failureSentence, helpRequested, parseArgsMessage } from './usage-error';
import { readStackFile, resolveApiTarget } from './stack-file';

const POLL_MS = 300;
const USAGE = 'usage: npm run -s transcribe -- FILE [--segments] [--json] [--language xx] [--model id]\n';
/** Exit status after SIGINT (128 + 2), as shells report it. */
const EXIT_INTERRUPTED = 130;

/** Why `file` cannot be uploaded, in a sentence; null when it is a readable regular file. */
function unreadable(file: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${(err as Error).message}`;
  }
  if (st.isDirectory()) return `${file} is a directory; give one audio file (for a folder, use npm run backfill)`;
  if (!st.isFile()) return `${file} is not a regular file`;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    return `cannot read ${file}: permission denied`;
  }
  return null;
}

/** The answer's JSON body, or null when it is not JSON (a proxy's HTML page, an empty body). */
async function readBody(res: Response): Promise<Record<string, any> | null> {
  const text = await res.text();
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

/**
 * `429 rate_limited: <the API's sentence>`, or, when the body is not our error, that the server at `apiUrl` did not
 * answer as the API (another web server or a proxy's page: FAIRSCRIBE_API_URL is the first thing to check).
 */
function describeAnswer(res: Response, body: Record<string, any> | null, apiUrl: string): string {
  const e = body?.error;
  if (e && typeof e.code === 'string') return `${res.status} ${e.code}: ${e.message ?? ''}`;
  return `${res.status} ${res.statusText || 'unexpected answer'}: the server at ${apiUrl} did not answer as the fairscribe API (no job, no error of ours): is FAIRSCRIBE_API_URL the API's address?`;
}

/**
 * The poll interval for a key: POLL_MS, or slower where polling would spend more than half the key's requests per
 * minute (the `RateLimit-Limit` every /v1 answer carries; free: 60 → one poll per 2 s), leaving the other half to
 * the user's other calls.
 */
function pollInterval(res: Response): number {
  const perMinute = Number(res.headers.get('ratelimit-limit'));
  return Number.isFinite(perMinute) && perMinute > 0 ? Math.max(POLL_MS, Math.ceil(120_000 / perMinute)) : POLL_MS;
}

/** Retry-After in ms (seconds form), at least one poll interval, at most a minute. */
function retryAfterMs(res: Response): number {
  const s = Number(res.headers.get('retry-after'));
  return Math.min(60_000, Math.max(POLL_MS, Number.isFinite(s) ? s * 1000 : 1000));
}

function formatTime(s: number): string {
  return s.toFixed(2);
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  if (helpRequested(argv)) {
    process.stdout.write(USAGE);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        segments: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        language: { type: 'string' },
        model: { type: 'string' },
      },
    });
  } catch (err) {
    // An unknown option or a missing value is a usage error (exit 2), as in the admin CLI.
    process.stderr.write(`transcribe: ${parseArgsMessage(err)}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const file = positionals[0];
  if (!file) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (positionals.length > 1) {
    // One job per run: transcribing the first file and dropping the others unsaid loses them.
    process.stderr.write(`transcribe: give one audio file (got ${positionals.length}); for a folder, use npm run backfill\n${USAGE}`);
    return 2;
  }
  const why = unreadable(file);
  if (why) {
    process.stderr.write(`transcribe: ${why}\n`);
    return 2;
  }
  const { apiUrl, apiKey } = resolveApiTarget();
  const auth = { authorization: `Bearer ${apiKey}` };
  const form = new FormData();
  if (values.language) form.append('language', values.language);
  if (values.model) form.append('model', values.model);
  form.append('file', await fs.openAsBlob(file), path.basename(file));
  const res = await fetch(`${apiUrl}/v1/jobs`, { method: 'POST', body: form, headers: auth });
  const created = (await readBody(res)) as { id?: string };
  if (res.status !== 202 || !created?.id) {
    process.stderr.write(`transcribe: ${describeAnswer(res, created, apiUrl)}\n`);
    return 1;
  }
  const id = created.id;
  // Ctrl-C: cancel the job this run started, so it does not go on (and hold quota) unseen.
  const onInterrupt = () => {
    process.stderr.write(`\ntranscribe: interrupted; cancelling job ${id}\n`);
    fetch(`${apiUrl}/v1/jobs/${id}/cancel`, { method: 'POST', headers: auth, signal: AbortSignal.timeout(10_000) })
      .then(
        (r) => process.stderr.write(r.status === 202 ? `transcribe: job ${id} cancelled\n` : `transcribe: cancel of job ${id} answered ${r.status}\n`),
        (err) => process.stderr.write(`transcribe: could not cancel job ${id}: ${(err as Error).message}\n`),
      )
      .finally(() => process.exit(EXIT_INTERRUPTED));
  };
  process.once('SIGINT', onInterrupt);
  process.stderr.write(`job ${id} queued\n`);
  let job: Record<string, any>;
  let last = '';
  for (;;) {
    const r = await fetch(`${apiUrl}/v1/jobs/${id}`, { headers: auth });
    const body = await readBody(r);
    if (r.status === 429) {
      // Polling counts against the key's requests per minute (60 on free): wait as told, then go on.
      await new Promise((resolve) => setTimeout(resolve, retryAfterMs(r)));
      continue;
    }
    if (r.status !== 200 || body === null) {
      // The key revoked, the job deleted, a proxy's page: nothing to wait for. The job (if any) is left as it is.
      process.off('SIGINT', onInterrupt);
      process.stderr.write(`transcribe: ${describeAnswer(r, body, apiUrl)} (job ${id})\n`);
      return 1;
    }
    job = body as Record<string, any>;
    const p = job.progress ?? {};
    const line = `${job.status} ${p.chunksDone ?? 0}/${p.chunksTotal ?? '?'} chunks`;
    if (line !== last) {
      process.stderr.write(`${line}\n`);
      last = line;
    }
    if (['completed', 'failed', 'cancelled', 'expired'].includes(job.status)) break;
    await new Promise((resolve) => setTimeout(resolve, pollInterval(r)));
  }
  process.off('SIGINT', onInterrupt);
  if (values.json) {
    process.stdout.write(JSON.stringify(job, null, 2) + '\n');
  } else if (job.status === 'completed') {
    process.stdout.write(`${job.text}\n`);
    if (values.segments) {
      for (const s of job.segments) process.stdout.write(`[${formatTime(s.start)} → ${formatTime(s.end)}] ${s.text}\n`);
    }
  }
  if (job.status !== 'completed') {
    process.stderr.write(`transcribe: job ${id} ${job.status}: ${job.error?.message ?? ''}\n`);
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`transcribe: ${failureSentence(err, process.env.FAIRSCRIBE_API_URL ?? readStackFile()?.apiUrl ?? null)}\n`);
      process.exit(1);
    },
  );
}
