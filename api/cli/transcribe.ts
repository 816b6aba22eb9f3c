/**
 * `npm run -s transcribe -- FILE [--segments] [--json]`: a thin client of the HTTP API.
 * stdout: the transcript text (and `[start → end] text` lines with --segments), or the final job
 * JSON with --json; progress goes to stderr. Exit code 1 when the job does not complete.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveApiTarget } from './stack-file';

const POLL_MS = 300;

function formatTime(s: number): string {
  return s.toFixed(2);
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      segments: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      language: { type: 'string' },
      model: { type: 'string' },
    },
  });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('usage: npm run -s transcribe -- FILE [--segments] [--json] [--language xx] [--model id]\n');
    return 2;
  }
  if (!fs.existsSync(file)) {
    process.stderr.write(`transcribe: no such file: ${file}\n`);
    return 2;
  }
  const { apiUrl, apiKey } = resolveApiTarget();
  const auth = { authorization: `Bearer ${apiKey}` };
  const form = new FormData();
  if (values.language) form.append('language', values.language);
  if (values.model) form.append('model', values.model);
  form.append('file', await fs.openAsBlob(file), path.basename(file));
  const res = await fetch(`${apiUrl}/v1/jobs`, { method: 'POST', body: form, headers: auth });
  const created = (await res.json()) as { id?: string; error?: { code: string; message: string } };
  if (res.status !== 202 || !created.id) {
    process.stderr.write(`transcribe: ${res.status} ${created.error?.code}: ${created.error?.message}\n`);
    return 1;
  }
  const id = created.id;
  process.stderr.write(`job ${id} queued\n`);
  let job: Record<string, any>;
  let last = '';
  for (;;) {
    const r = await fetch(`${apiUrl}/v1/jobs/${id}`, { headers: auth });
    job = (await r.json()) as Record<string, any>;
    const p = job.progress ?? {};
    const line = `${job.status} ${p.chunksDone ?? 0}/${p.chunksTotal ?? '?'} chunks`;
    if (line !== last) {
      process.stderr.write(`${line}\n`);
      last = line;
    }
    if (['completed', 'failed', 'cancelled', 'expired'].includes(job.status)) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
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
      process.stderr.write(`transcribe: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
