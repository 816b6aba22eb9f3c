/**
 * Audio by URL (`POST /v1/jobs` with `url`, as JSON or a multipart field): a loopback server under an
 * AUDIO_URL_ALLOW rule serves the audio; the webhook SSRF table refuses everything else, redirects
 * included; the size limit holds while the body streams; nothing refused leaves a job or a blob.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { blobFolders, startTestApp, waitForJob, type TestApp } from '../helpers/harness';
import { wer } from '../helpers/wer';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const JFK = path.join(AUDIO, 'jfk.wav');
const JFK_REFERENCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';
const MB = 1024 * 1024;
/** AUDIO_URL_TIMEOUT_SECONDS here: long enough for jfk on loopback, short enough to wait out. */
const TIMEOUT_S = 4;

let app: TestApp;
let server: http.Server;
let origin: string;
let apiKey: string;
let freeKey: string;
const served: string[] = [];

beforeAll(async () => {
  app = await startTestApp({ AUDIO_URL_ALLOW: 'loopback', AUDIO_URL_TIMEOUT_SECONDS: String(TIMEOUT_S) });
  ({ apiKey } = await app.user('standard'));
  ({ apiKey: freeKey } = await app.user('free'));
  const jfk = fs.readFileSync(JFK);
  server = http.createServer((req, res) => {
    served.push(req.url ?? '');
    res.on('error', () => undefined);
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    if (p === '/jfk.wav') {
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': jfk.length });
      res.end(jfk);
    } else if (p === '/big') {
      // No Content-Length: the limit must hold while the bytes arrive, not from a header.
      res.writeHead(200, { 'content-type': 'audio/wav' });
      const block = Buffer.alloc(MB);
      let sent = 0;
      const pump = () => {
        while (sent < 40 && !res.destroyed) {
          sent++;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      res.on('close', () => (sent = 40));
    } else if (p === '/slow') {
      // Headers and a first block, then nothing: only the total time limit ends this fetch.
      res.writeHead(200, { 'content-type': 'audio/wav' });
      res.write(jfk.subarray(0, 4096));
    } else if (p === '/to-jfk') {
      res.writeHead(302, { location: '/jfk.wav' }).end();
    } else if (p === '/to-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    } else if (p === '/loop') {
      res.writeHead(302, { location: '/loop' }).end();
    } else {
      res.writeHead(404).end('no');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await app?.stop();
}, 60_000);

const postJson = (key: string, body: unknown) =>
  fetch(`${app.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const postForm = (key: string, fields: Record<string, string>, file?: Buffer) => {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) form.append('file', new Blob([file]), 'jfk.wav');
  return fetch(`${app.url}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
};

/** Blob folders that were not there in `before`: a refused request must add none. */
const newBlobFolders = (before: string[]) => blobFolders(app).filter((b) => !before.includes(b));
const jobCount = async () => Number((await app.pool.query('SELECT count(*) FROM jobs')).rows[0].count);

test('a URL under the allow rule is fetched like an upload: JSON and multipart, redirects followed; the job keeps the URL without its query', async () => {
  const res = await postJson(apiKey, { url: `${origin}/jfk.wav?sig=SECRET123&expires=9`, model: 'whisper-tiny.en' });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const job = await waitForJob(app.url, apiKey, id);
  expect(job.status).toBe('completed');
  expect(wer(JFK_REFERENCE, job.text)).toBeLessThanOrEqual(0.1);
  expect(job.url).toBe(`${origin}/jfk.wav`);
  expect(JSON.stringify(job)).not.toContain('SECRET123');
  const row = await app.pool.query('SELECT options::text AS o, filename FROM jobs WHERE id = $1', [id]);
  expect(row.rows[0].o).not.toContain('SECRET123');
  expect(row.rows[0].filename).toBe('jfk.wav');
  // The query string did reach the server (a signed URL needs it).
  expect(served).toContain('/jfk.wav?sig=SECRET123&expires=9');

  const viaForm = await postForm(apiKey, { url: `${origin}/to-jfk`, model: 'whisper-tiny.en' });
  expect(viaForm.status).toBe(202);
  const j2 = await waitForJob(app.url, apiKey, ((await viaForm.json()) as { id: string }).id);
  expect(j2.status).toBe('completed');
  expect(wer(JFK_REFERENCE, j2.text)).toBeLessThanOrEqual(0.1);
  expect(j2.url).toBe(`${origin}/to-jfk`);
}, 120_000);

test('refusals: scheme, credentials, non-public addresses, a redirect to the metadata address, 404, redirect loops, url with file or edge', async () => {
  const jobsBefore = await jobCount();
  const blobsBefore = blobFolders(app);
  const cases: [unknown, number, string][] = [
    [{ url: 'ftp://127.0.0.1/jfk.wav' }, 400, 'url_not_allowed'],
    [{ url: 'file:///etc/passwd' }, 400, 'url_not_allowed'],
    [{ url: `http://user:pw@${origin.slice(7)}/jfk.wav` }, 400, 'url_not_allowed'],
    [{ url: 'http://10.20.30.40/a.wav' }, 400, 'url_not_allowed'],
    [{ url: 'http://169.254.169.254/latest/meta-data/' }, 400, 'url_not_allowed'],
    [{ url: 'http://[::ffff:192.168.1.1]/a.wav' }, 400, 'url_not_allowed'],
    [{ url: `${origin}/to-metadata` }, 400, 'url_not_allowed'],
    [{ url: `${origin}/missing.wav` }, 422, 'url_unreachable'],
    [{ url: `${origin}/loop` }, 422, 'url_unreachable'],
    [{ url: 'not a url' }, 400, 'invalid_request'],
    [{ url: `${origin}/jfk.wav`, mode: 'edge' }, 400, 'invalid_request'],
    [{ url: 42 }, 400, 'invalid_request'],
    [{ url: { href: 'x' } }, 400, 'invalid_request'],
    [{ model: 'whisper-tiny.en' }, 415, 'unsupported_media_type'],
  ];
  for (const [body, status, code] of cases) {
    const res = await postJson(apiKey, body);
    const b = (await res.json()) as { error: { code: string; message: string } };
    expect([JSON.stringify(body), res.status, b.error.code]).toEqual([JSON.stringify(body), status, code]);
    expect(b.error.message).not.toMatch(/Error:|webhookUrl/);
  }
  const both = await postForm(apiKey, { url: `${origin}/jfk.wav` }, fs.readFileSync(JFK));
  expect(both.status).toBe(400);
  expect(((await both.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  // Nothing admitted, nothing left in the upload area.
  expect(await jobCount()).toBe(jobsBefore);
  expect(newBlobFolders(blobsBefore)).toEqual([]);
}, 60_000);

test('the size limit holds while the body streams: 413 file_too_large, no blob left', async () => {
  const before = blobFolders(app);
  const t0 = Date.now();
  const res = await postJson(freeKey, { url: `${origin}/big` });
  expect(res.status).toBe(413);
  const b = (await res.json()) as { error: { code: string; limit: number } };
  expect(b.error.code).toBe('file_too_large');
  expect(b.error.limit).toBe(app.config.tiers.free.maxFileBytes);
  expect(Date.now() - t0).toBeLessThan(30_000);
  expect(newBlobFolders(before)).toEqual([]);
}, 60_000);

test('a server that stalls mid-body: 422 url_unreachable after AUDIO_URL_TIMEOUT_SECONDS, no blob left', async () => {
  const before = blobFolders(app);
  const t0 = Date.now();
  const res = await postJson(apiKey, { url: `${origin}/slow` });
  const took = Date.now() - t0;
  expect(res.status).toBe(422);
  expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
    code: 'url_unreachable',
    message: expect.stringContaining(`${TIMEOUT_S} s`),
  });
  expect(took).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 100);
  expect(took).toBeLessThan(TIMEOUT_S * 1000 + 5_000);
  expect(newBlobFolders(before)).toEqual([]);
}, 30_000);

test('fetches are counted by outcome', async () => {
  const metrics = await (await fetch(`${app.url}/metrics`)).text();
  const count = (outcome: string) =>
    Number(new RegExp(`fairscribe_audio_url_fetches_total\\{outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  expect(count('ok')).toBeGreaterThanOrEqual(2);
  expect(count('not_allowed')).toBeGreaterThanOrEqual(6);
  expect(count('unreachable')).toBeGreaterThanOrEqual(2);
  expect(count('too_large')).toBeGreaterThanOrEqual(1);
  expect(count('timeout')).toBeGreaterThanOrEqual(1);
});
