/**
 * One transcription end to end on the real stack: API → Temporal workflow → ffmpeg → Whisper (ONNX)
 * → Postgres, with jfk's reference text (JFK_REFERENCE below).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Connection, Client } from '@temporalio/client';
import { workflowIdFor } from '../../common/constants';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { wer } from '../helpers/wer';

const execFileAsync = promisify(execFile);
const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const JFK_REFERENCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

let app: TestApp;
let key: string;
let tmp: string;

beforeAll(async () => {
  app = await startTestApp();
  key = (await app.user('free')).apiKey;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-audio-'));
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

function expectSaneSegments(job: Record<string, any>) {
  const segs = job.segments as { start: number; end: number; text: string }[];
  expect(segs.length).toBeGreaterThan(0);
  let prevEnd = 0;
  for (const s of segs) {
    expect(s.start).toBeGreaterThanOrEqual(prevEnd - 1e-9);
    expect(s.end).toBeGreaterThanOrEqual(s.start);
    expect(s.end).toBeLessThanOrEqual(job.audioSeconds + 1e-6);
    prevEnd = s.end;
  }
}

test('jfk.flac (stereo, 44.1 kHz) completes with WER ≤ 10%, in Postgres and the Temporal UI', async () => {
  const res = await submitFile(app.url, key, path.join(AUDIO, 'jfk.flac'));
  expect(res.status).toBe(202);
  const { id, status, links } = (await res.json()) as { id: string; status: string; links: { self: string } };
  expect(status).toBe('queued');
  expect(links.self).toBe(`/v1/jobs/${id}`);

  const job = await waitForJob(app.url, key, id);
  expect(job.status).toBe('completed');
  expect(wer(JFK_REFERENCE, job.text)).toBeLessThanOrEqual(0.1);
  expect(job.audioSeconds).toBeCloseTo(11.0, 1);
  expect(job.billedSeconds).toBe(11);
  expect(job.model).toBe('whisper-tiny.en');
  expect(job.modelTier).toBe('economy');
  expect(job.progress).toEqual({ chunksDone: 1, chunksTotal: 1 });
  expect(job.startedAt).not.toBeNull();
  expectSaneSegments(job);

  // The job is a workflow named after it, with search attributes kept current.
  const connection = await Connection.connect({ address: app.config.temporalAddress });
  try {
    const client = new Client({ connection, namespace: app.config.temporalNamespace });
    await client.workflow.getHandle(workflowIdFor(id)).result();
    const desc = await client.workflow.getHandle(workflowIdFor(id)).describe();
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.searchAttributes.JobStatus).toEqual(['completed']);
    expect(desc.searchAttributes.Tier).toEqual(['free']);
    // No transcript text in any Temporal payload.
    const history = JSON.stringify(await client.workflow.getHandle(workflowIdFor(id)).fetchHistory());
    expect(history).not.toMatch(/fellow Americans/i);
    expect(Buffer.from(history).toString()).not.toContain(Buffer.from('fellow Americans').toString('base64'));
  } finally {
    await connection.close();
  }
  // The audio blobs are gone once the job ended.
  expect(fs.existsSync(path.join(app.config.blobDir, id))).toBe(false);
}, 120_000);

test('M4A with its index at the end transcribes', async () => {
  const m4a = path.join(tmp, 'jfk.m4a');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO, 'jfk.flac'), '-c:a', 'aac', m4a]);
  const res = await submitFile(app.url, key, m4a);
  expect(res.status).toBe(202);
  const job = await waitForJob(app.url, key, ((await res.json()) as { id: string }).id);
  expect(job.status).toBe('completed');
  expect(wer(JFK_REFERENCE, job.text)).toBeLessThanOrEqual(0.1);
}, 120_000);

test('npm run -s transcribe prints the text, [start → end] lines with --segments, the job JSON with --json', async () => {
  // Asynchronous: the API under test runs in this process, so a blocking exec would deadlock it.
  const run = async (...args: string[]) =>
    (
      await execFileAsync(path.resolve(__dirname, '../../node_modules/.bin/tsx'), [path.resolve(__dirname, '../../api/cli/transcribe.ts'), ...args], {
        env: { ...process.env, FAIRSCRIBE_API_URL: app.url, FAIRSCRIBE_API_KEY: key },
        encoding: 'utf8',
      })
    ).stdout;
  const plain = await run(path.join(AUDIO, 'jfk.wav'));
  expect(wer(JFK_REFERENCE, plain)).toBeLessThanOrEqual(0.1);
  expect(plain.trim().split('\n')).toHaveLength(1);

  const withSegments = (await run(path.join(AUDIO, 'jfk.wav'), '--segments')).trim().split('\n');
  expect(withSegments.length).toBeGreaterThan(1);
  for (const line of withSegments.slice(1)) expect(line).toMatch(/^\[\d+\.\d{2} → \d+\.\d{2}\] \S/);

  const job = JSON.parse(await run(path.join(AUDIO, 'jfk.wav'), '--json'));
  expect(job).toMatchObject({ status: 'completed', model: 'whisper-tiny.en' });
  expect(wer(JFK_REFERENCE, job.text)).toBeLessThanOrEqual(0.1);
}, 120_000);

test('transcribe CLI: an unknown option or a directory is a usage error (2); Ctrl-C cancels its job and exits 130', async () => {
  const tsx = path.resolve(__dirname, '../../node_modules/.bin/tsx');
  const cli = path.resolve(__dirname, '../../api/cli/transcribe.ts');
  const env = { ...process.env, FAIRSCRIBE_API_URL: app.url, FAIRSCRIBE_API_KEY: key };
  const fail = (args: string[]) =>
    execFileAsync(tsx, [cli, ...args], { env, encoding: 'utf8' }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
  const unknown = await fail([path.join(AUDIO, 'jfk.wav'), '--verbose']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/^transcribe: Unknown option '--verbose'\n[\s\S]*usage:/);
  expect(unknown.stderr).not.toMatch(/positional argument/); // Node's advice about '--' read as if the option were a file
  const dir = await fail([tmp]);
  expect(dir.code).toBe(2);
  expect(dir.stderr).toMatch(/is a directory/);
  expect(dir.stderr).not.toMatch(/fetch failed/);

  // Ctrl-C while the job runs: the CLI cancels it, says so on stderr and exits 130.
  const long = path.join(tmp, 'jfk-x6.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '5', '-i', path.join(AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', long]);
  // node with tsx's loader directly (no tsx wrapper process in between), so SIGINT reaches the CLI itself.
  // A premium key: the free tier's 60 requests a minute may already be spent by the polls above.
  const premium = (await app.user('premium')).apiKey;
  const child = spawn(process.execPath, ['--import', 'tsx', cli, long], {
    env: { ...env, FAIRSCRIBE_API_KEY: premium },
    cwd: path.resolve(__dirname, '../..'),
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!/job [0-9a-f-]{36} queued/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const id = /job ([0-9a-f-]{36}) queued/.exec(stderr)![1];
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(stderr).toMatch(new RegExp(`cancelling job ${id}`));
  expect(stderr).toMatch(new RegExp(`job ${id} cancelled`));
  expect((await waitForJob(app.url, premium, id)).status).toBe('cancelled');
}, 120_000);
