/**
 * The S3 blob store against a real S3-compatible server on loopback (versitygw, path-style): objects
 * carry their SHA-256 and reads verify it; a chunk's byte range is checked against its own hash; and a
 * whole job runs end to end with BLOB_STORE=s3 (upload, PCM, ranged chunk reads, deletion all in S3).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../common/config';
import { BlobIntegrityError, BlobNotFoundError, blobKeys, createBlobStore, type BlobStore } from '../../common/blobs';
import { readChunkSamples } from '../../audio/pcm-blob';
import { chunkSha256 } from '../helpers/pcm-hash';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { startVersitygw, type TestS3 } from '../helpers/versitygw';
import { normalise, wer } from '../helpers/wer';
import { ESPEAK_SENTENCES } from '../helpers/sentences';
import { workflowIdFor } from '../../common/constants';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');

let s3: TestS3;
let staging: string;
let store: BlobStore;

beforeAll(async () => {
  s3 = await startVersitygw();
  staging = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-s3-staging-'));
  store = createBlobStore(loadConfig({ ...s3.env(), BLOB_DIR: staging }).blobStore);
}, 60_000);

afterAll(async () => {
  await s3?.stop();
  if (staging) fs.rmSync(staging, { recursive: true, force: true });
});

test('config: BLOB_STORE=s3 needs a bucket, and both credentials or neither', () => {
  expect(() => loadConfig({ BLOB_STORE: 's3' })).toThrow(/S3_BUCKET/);
  expect(() => loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'x' })).toThrow(/set both or neither/);
  expect(loadConfig({}).blobStore.kind).toBe('local');
  expect(store.kind).toBe('s3');
});

test('commit uploads with a hash and drops the staged file; fetch and ranges read it back; deleteJob removes it', async () => {
  const jobId = 'job-roundtrip';
  const key = blobKeys.pcm(jobId);
  const samples = Float32Array.from({ length: 16000 * 3 }, (_, i) => Math.sin(i / 7));
  fs.writeFileSync(store.prepare(key), new Uint8Array(samples.buffer));
  await store.commit(key);
  expect(fs.existsSync(path.join(staging, key))).toBe(false);
  expect(await store.exists(key)).toBe(true);
  // The object is really in the bucket, with our hash as user metadata.
  expect(fs.statSync(path.join(s3.bucketDir, key)).size).toBe(samples.byteLength);

  const copy = await store.fetch(key);
  expect(Buffer.compare(fs.readFileSync(copy), Buffer.from(samples.buffer))).toBe(0);

  const chunk = { index: 0, start: 1.0, end: 2.5 };
  const got = await readChunkSamples(store, key, { ...chunk, sha256: chunkSha256(samples, chunk) });
  expect(Array.from(got)).toEqual(Array.from(samples.subarray(16000, 40000)));
  await expect(readChunkSamples(store, key, { ...chunk, sha256: '0'.repeat(64) })).rejects.toBeInstanceOf(BlobIntegrityError);

  await store.deleteJob(jobId);
  expect(await store.exists(key)).toBe(false);
  expect(fs.existsSync(path.join(staging, jobId))).toBe(false);
  await expect(store.fetch(key)).rejects.toBeInstanceOf(BlobNotFoundError);
  await expect(store.readRange(key, 0, 10)).rejects.toBeInstanceOf(BlobNotFoundError);
});

test('an object changed behind the store fails verification on read and leaves no local copy', async () => {
  const key = blobKeys.upload('job-tampered');
  fs.writeFileSync(store.prepare(key), 'the original bytes');
  await store.commit(key);
  // Same length, other bytes, written straight into the server's backing folder (its metadata keeps the old hash).
  fs.writeFileSync(path.join(s3.bucketDir, key), 'THE ORIGINAL BYTES');
  await expect(store.fetch(key)).rejects.toBeInstanceOf(BlobIntegrityError);
  expect(fs.readdirSync(path.join(staging, 'job-tampered'))).toEqual([]);
  await store.deleteJob('job-tampered');
});

describe('a job end to end with BLOB_STORE=s3', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(s3.env());
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
  }, 60_000);

  test('transcribes, with its upload and PCM in S3 and nothing left behind', async () => {
    const { apiKey } = await app.user('premium');
    const res = await submitFile(app.url, apiKey, path.join(AUDIO, 'jfk.flac'));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const job = await waitForJob(app.url, apiKey, id);
    expect(job.status).toBe('completed');
    expect(normalise(job.text).join(' ')).toContain('ask not what your country can do for you');

    // The workflow deletes the audio just after the job reads completed.
    const deadline = Date.now() + 15_000;
    while (fs.readdirSync(s3.bucketDir).includes(id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(fs.readdirSync(s3.bucketDir)).not.toContain(id);
    // The S3 calls the job made: upload and PCM PUT, PCM ranges GET, both DELETEd at the end.
    const log = s3.accessLog().split('\n').filter((l) => l.includes(id));
    // versitygw's access log (S3 server-access-log format): "… s3_<Operation> <key> /<bucket>/<key> <status> …".
    const calls = (op: string, name: string) => log.filter((l) => new RegExp(` s3_${op} ${id}/${name} \\S+ 2\\d\\d `).test(l)).length;
    expect(calls('PutObject', 'upload')).toBe(1);
    expect(calls('PutObject', 'audio\\.f32')).toBe(1);
    expect(calls('GetObject', 'upload')).toBe(1);
    expect(calls('GetObject', 'audio\\.f32')).toBeGreaterThanOrEqual(1);
    expect(calls('DeleteObject', 'upload')).toBe(1);
    expect(calls('DeleteObject', 'audio\\.f32')).toBe(1);
    // Local staging on the API and worker side is gone too.
    expect(fs.existsSync(path.join(app.config.blobDir, id))).toBe(false);
  }, 180_000);

  test('chunks announced while preparing are published as blobs of their own first; every sentence once; nothing left', async () => {
    // 12 sentences with 2.5 s pauses (closed VAD spans; test/integration/early-chunks.test.ts): chunks settle early.
    const sentences = ESPEAK_SENTENCES.slice(0, 12);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-s3-early-'));
    try {
      const files = sentences.map((text, i) => {
        const raw = path.join(dir, `raw-${i}.wav`);
        const out = path.join(dir, `s-${i}.wav`);
        execFileSync('espeak-ng', ['-s', '150', '-w', raw, text]);
        execFileSync('sox', ['-R', '-D', raw, '-r', '16000', '-c', '1', '-b', '16', out,
          'silence', '1', '0.01', '-60d', 'reverse', 'silence', '1', '0.01', '-60d', 'reverse']);
        return out;
      });
      const pause = path.join(dir, 'pause.wav');
      execFileSync('sox', ['-R', '-n', '-r', '16000', '-c', '1', '-b', '16', pause, 'trim', '0', '2.5']);
      const talk = path.join(dir, 'talk.wav');
      execFileSync('sox', ['-R', '-D', ...files.flatMap((f, i) => (i === 0 ? [f] : [pause, f])), talk]);

      const { apiKey } = await app.user('premium');
      const res = await submitFile(app.url, apiKey, talk, { language: 'en', model: 'whisper-tiny.en' });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      const job = await waitForJob(app.url, apiKey, id, 150_000);
      expect(job.status).toBe('completed');
      expect(wer(sentences.join('. '), job.text as string)).toBeLessThan(0.1);

      const history = await app.api.temporal.workflow.getHandle(workflowIdFor(id)).fetchHistory();
      const announced: number[] = (history.events ?? [])
        .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'chunksPlanned')
        .flatMap((e) => JSON.parse(Buffer.from(e.workflowExecutionSignaledEventAttributes!.input!.payloads![0].data!).toString('utf8')).chunks)
        .map((c: { index: number }) => c.index);
      expect(announced.length).toBeGreaterThanOrEqual(1);

      const deadline = Date.now() + 15_000;
      while (fs.readdirSync(s3.bucketDir).includes(id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(fs.readdirSync(s3.bucketDir)).not.toContain(id);
      const log = s3.accessLog().split('\n').filter((l) => l.includes(id));
      const calls = (op: string, name: string) => log.filter((l) => new RegExp(` s3_${op} ${id}/${name} \\S+ 2\\d\\d `).test(l)).length;
      // each announced chunk's audio was PUT once before its signal, and deleted with the job
      for (const i of announced) {
        expect(calls('PutObject', `chunk-${i}\\.f32`)).toBe(1);
        expect(calls('DeleteObject', `chunk-${i}\\.f32`)).toBe(1);
      }
      expect(calls('PutObject', 'audio\\.f32')).toBe(1);
      // which chunks read their own blob depends on timing (started before the PCM blob was published): printed
      const early = announced.filter((i) => calls('GetObject', `chunk-${i}\\.f32`) > 0);
      console.log(`S3 early chunks: ${announced.length} announced, ${early.length} read from their own blob (${early.join(', ')})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
