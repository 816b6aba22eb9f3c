/**
 * One transcription end to end on the real stack: API → Temporal workflow → ffmpeg → Whisper (ONNX)
 * → Postgres, with the reference text of ../shared/audio/README.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
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
