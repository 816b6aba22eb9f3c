/**
 * Contract test: /openapi.json is the API. Every operation the document lists is called on loopback
 * against a running app (a small, fixed example budget: a success and the cheap refusals), and each
 * answer's status must be one the operation documents, its content type one documented for that
 * status, and a JSON body must match the documented schema (read back from the document with zod's
 * `z.fromJSONSchema`, so the check uses the published JSON Schema, not the zod objects behind it).
 * An operation without an example, or an example for an undocumented route, fails the test.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { z } from 'zod';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');

let app: TestApp;
let key: string;
let tmp: string;
let mp3: string;
let longMp3: string;
let spec: Record<string, any>;
let done: Record<string, any>;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-openapi-'));
  mp3 = path.join(tmp, 'jfk.mp3');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO, 'jfk.flac'), '-ac', '1', '-b:a', '32k', mp3]);
  longMp3 = path.join(tmp, 'jfk-x8.mp3');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '7', '-i', path.join(AUDIO, 'jfk.flac'), '-ac', '1', '-b:a', '24k', longMp3]);
  fs.writeFileSync(path.join(tmp, 'notes.wav'), 'not audio\n'.repeat(100));
  app = await startTestApp();
  key = (await app.user('premium')).apiKey;
  const res = await fetch(`${app.url}/openapi.json`);
  expect(res.status).toBe(200);
  spec = (await res.json()) as Record<string, any>;
  const sub = await submitFile(app.url, key, mp3);
  done = await waitForJob(app.url, key, ((await sub.json()) as { id: string }).id);
  expect(done.status).toBe('completed');
}, 180_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

type Call = () => Promise<Response>;
const auth = (k: string | null = key): Record<string, string> => (k ? { authorization: `Bearer ${k}` } : {});
const get = (p: string, k: string | null = key) => () => fetch(`${app.url}${p}`, { headers: auth(k) });
const send = (method: string, p: string, body?: string | FormData, headers: Record<string, string> = {}, k: string | null = key) => () =>
  fetch(`${app.url}${p}`, { method, body, headers: { ...auth(k), ...headers } });
function form(fields: Record<string, string>, file: string | null = mp3): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  if (file) f.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  return f;
}
const json = (v: unknown) => JSON.stringify(v);
const CT_JSON = { 'content-type': 'application/json' };
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/** A job still running, for cancel (made when its example runs). */
async function runningJob(): Promise<string> {
  const res = await submitFile(app.url, key, longMp3);
  return ((await res.json()) as { id: string }).id;
}

/** Examples per operation, `METHOD /path/{param}` as the document names it. */
const EXAMPLES: Record<string, [name: string, call: Call][]> = {
  'GET /healthz': [['no key', get('/healthz', null)]],
  'GET /readyz': [['no key', get('/readyz', null)]],
  'GET /openapi.json': [['no key', get('/openapi.json', null)]],
  'GET /docs': [['no key', get('/docs', null)]],
  'GET /metrics': [['no key', get('/metrics', null)]],
  'POST /v1/jobs': [
    ['admitted', () => send('POST', '/v1/jobs', form({ language: 'en' }))()],
    ['no key', () => send('POST', '/v1/jobs', form({}), {}, null)()],
    ['unknown field', () => send('POST', '/v1/jobs', form({ colour: 'blue' }))()],
    ['JSON without url', send('POST', '/v1/jobs', json({ language: 'en' }), CT_JSON)],
    ['url refused by the SSRF policy', send('POST', '/v1/jobs', json({ url: 'http://169.254.169.254/latest/meta-data/' }), CT_JSON)],
    ['not multipart or JSON', send('POST', '/v1/jobs', 'language=en', { 'content-type': 'text/plain' })],
    ['not audio', () => send('POST', '/v1/jobs', form({}, path.join(tmp, 'notes.wav')))()],
    ['edge (privacy mode): a plan, no file', () => send('POST', '/v1/jobs', form({ mode: 'edge' }, null))()],
  ],
  'POST /v1/jobs/{id}/edge-result': [
    [
      'taken',
      async () => {
        const { id, edge } = (await (await send('POST', '/v1/jobs', form({ mode: 'edge' }, null))()).json()) as { id: string; edge: { token: string } };
        const result = { text: 'And so my fellow Americans', segments: [{ start: 0, end: 2, text: 'And so my fellow Americans' }], language: 'en' };
        return send('POST', `/v1/jobs/${id}/edge-result`, json(result), { ...CT_JSON, authorization: `Bearer ${edge.token}` }, null)();
      },
    ],
    ['unknown token', send('POST', `/v1/jobs/${UNKNOWN}/edge-result`, json({ text: '', segments: [], language: 'en' }), { ...CT_JSON, authorization: `Bearer fset_${'A'.repeat(43)}` }, null)],
  ],
  'PUT /v1/jobs/{id}/audio': [
    ['a cloud job', () => send('PUT', `/v1/jobs/${done.id}/audio`, form({}))()],
    ['unknown', () => send('PUT', `/v1/jobs/${UNKNOWN}/audio`, form({}))()],
  ],
  'GET /v1/jobs': [
    ['a page', get('/v1/jobs?limit=2&status=completed')],
    ['limit out of range', get('/v1/jobs?limit=0')],
  ],
  'GET /v1/jobs/{id}': [
    ['own job', () => get(`/v1/jobs/${done.id}`)()],
    ['unknown', get(`/v1/jobs/${UNKNOWN}`)],
    ['no key', () => get(`/v1/jobs/${done.id}`, null)()],
  ],
  'DELETE /v1/jobs/{id}': [
    ['own job', async () => send('DELETE', `/v1/jobs/${await runningJob()}`)()],
    ['unknown', send('DELETE', `/v1/jobs/${UNKNOWN}`)],
  ],
  'GET /v1/jobs/{id}/transcript': [
    ...(['text', 'srt', 'vtt', 'json'] as const).map((f): [string, Call] => [f, () => get(`/v1/jobs/${done.id}/transcript?format=${f}`)()]),
    ['unknown format', () => get(`/v1/jobs/${done.id}/transcript?format=docx`)()],
    ['version 1', () => get(`/v1/jobs/${done.id}/transcript?version=1&format=json`)()],
    ['no such version', () => get(`/v1/jobs/${done.id}/transcript?version=2`)()],
    ['unknown job', get(`/v1/jobs/${UNKNOWN}/transcript`)],
  ],
  'POST /v1/jobs/{id}/retranscribe': [
    [
      'retained audio',
      async () => {
        const sub = await send('POST', '/v1/jobs', form({ retainAudioSeconds: '600' }))();
        const { id } = (await sub.json()) as { id: string };
        await waitForJob(app.url, key, id);
        return send('POST', `/v1/jobs/${id}/retranscribe`, json({ model: 'whisper-base' }), CT_JSON)();
      },
    ],
    ['audio not retained', () => send('POST', `/v1/jobs/${done.id}/retranscribe`, json({ model: 'whisper-base' }), CT_JSON)()],
    ['unknown', send('POST', `/v1/jobs/${UNKNOWN}/retranscribe`, json({ model: 'whisper-base' }), CT_JSON)],
    ['not JSON', () => send('POST', `/v1/jobs/${done.id}/retranscribe`, 'model=whisper-base', { 'content-type': 'text/plain' })()],
  ],
  'GET /v1/jobs/{id}/events': [
    ['a finished job’s stream', () => get(`/v1/jobs/${done.id}/events`)()],
    ['unknown', get(`/v1/jobs/${UNKNOWN}/events`)],
    ['resumed past the end', () => send('GET', `/v1/jobs/${done.id}/events`, undefined, { 'Last-Event-ID': '999999999' })()],
  ],
  'POST /v1/jobs/{id}/cancel': [
    ['running', async () => send('POST', `/v1/jobs/${await runningJob()}/cancel`)()],
    ['ended', () => send('POST', `/v1/jobs/${done.id}/cancel`)()],
  ],
  'POST /v1/tokens': [
    ['listen', send('POST', '/v1/tokens', json({ scope: 'listen' }), CT_JSON)],
    ['job', () => send('POST', '/v1/tokens', json({ jobId: done.id }), CT_JSON)()],
    ['bad scope', send('POST', '/v1/tokens', json({ scope: 'admin' }), CT_JSON)],
    ['not JSON', send('POST', '/v1/tokens', 'scope=listen', { 'content-type': 'text/plain' })],
    ['JSON over 64 KB (413 body_too_large)', send('POST', '/v1/tokens', json({ scope: 'listen', pad: 'x'.repeat(100_000) }), CT_JSON)],
  ],
  'GET /v1/listen': [
    ['plain HTTP', get('/v1/listen')],
    ['no key', get('/v1/listen', null)],
    [
      'upgrade',
      async () => {
        // A real WebSocket upgrade answers 101; fetch cannot, so speak HTTP/1.1 on a socket.
        const { default: WebSocket } = await import('ws');
        const ws = new WebSocket(`${app.url.replace('http', 'ws')}/v1/listen`, { headers: auth() });
        const status = await new Promise<number>((resolve, reject) => {
          ws.once('upgrade', (res) => resolve(res.statusCode ?? 0));
          ws.once('error', reject);
        });
        ws.close();
        return new Response(null, { status: 200, headers: { 'x-upgrade-status': String(status) } });
      },
    ],
  ],
  'GET /v1/usage': [
    ['today', get('/v1/usage')],
    ['a day', get('/v1/usage?day=2026-01-31')],
    ['not a day', get('/v1/usage?day=yesterday')],
    ['no key', get('/v1/usage', null)],
  ],
  'GET /v1/models': [
    ['list', get('/v1/models')],
    ['no key', get('/v1/models', null)],
  ],
  'GET /v1/models/{model}': [
    ['alias', get('/v1/models/whisper-1')],
    ['unknown', get('/v1/models/no-such-model')],
  ],
  'POST /v1/audio/transcriptions': [
    ['json', () => send('POST', '/v1/audio/transcriptions', form({ model: 'whisper-1' }))()],
    ['verbose_json', () => send('POST', '/v1/audio/transcriptions', form({ model: 'whisper-1', response_format: 'verbose_json' }))()],
    ['text', () => send('POST', '/v1/audio/transcriptions', form({ model: 'whisper-1', response_format: 'text' }))()],
    ['stream', () => send('POST', '/v1/audio/transcriptions', form({ model: 'whisper-1', stream: 'true' }))()],
    ['stream with srt', () => send('POST', '/v1/audio/transcriptions', form({ model: 'whisper-1', stream: 'true', response_format: 'srt' }))()],
    ['temperature out of range', () => send('POST', '/v1/audio/transcriptions', form({ model: 'whisper-1', temperature: '1.5' }))()],
  ],
  'POST /v1/audio/translations': [
    ['unknown response_format', () => send('POST', '/v1/audio/translations', form({ model: 'whisper-base', response_format: 'docx' }))()],
    ['no key', () => send('POST', '/v1/audio/translations', form({ model: 'whisper-base' }), {}, null)()],
  ],
};

const operations = () =>
  Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
  );

test('the document is OpenAPI 3.1 and every operation has examples here (and nothing else does)', () => {
  expect(spec.openapi).toBe('3.1.0');
  expect(operations().sort()).toEqual(Object.keys(EXAMPLES).sort());
  // The public routes say so; every other operation needs the API key.
  const publicOps = operations().filter((o) => {
    const [m, p] = o.split(' ');
    return Array.isArray(spec.paths[p][m.toLowerCase()].security) && spec.paths[p][m.toLowerCase()].security.length === 0;
  });
  expect(publicOps.sort()).toEqual(['GET /docs', 'GET /healthz', 'GET /metrics', 'GET /openapi.json', 'GET /readyz']);
});

/** Checks one answer against its operation in the document; returns the parsed body. */
async function conforms(op: string, res: Response): Promise<unknown> {
  const [m, p] = op.split(' ');
  if (res.headers.has('x-upgrade-status')) {
    // The WebSocket example: the upgrade's status must be documented (101).
    const status = res.headers.get('x-upgrade-status')!;
    expect({ op, status, documented: status in spec.paths[p][m.toLowerCase()].responses }).toEqual({ op, status, documented: true });
    return null;
  }
  const documented = spec.paths[p][m.toLowerCase()].responses as Record<string, { content?: Record<string, { schema: unknown }> }>;
  const raw = await res.text();
  expect({ op, status: res.status, documented: String(res.status) in documented }).toEqual({ op, status: res.status, documented: true });
  const content = documented[String(res.status)].content;
  if (!content) {
    expect(raw).toBe('');
    return null;
  }
  const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  expect({ op, status: res.status, type, documented: Object.keys(content) }).toEqual({
    op,
    status: res.status,
    type,
    documented: expect.arrayContaining([type]),
  });
  if (type !== 'application/json') return raw;
  const body = JSON.parse(raw);
  const check = z.fromJSONSchema(content[type].schema as never).safeParse(body);
  if (!check.success) throw new Error(`${op} → ${res.status}: body does not match the document: ${check.error.message}\n${raw.slice(0, 500)}`);
  return body;
}

describe.each(Object.keys(EXAMPLES))('%s', (op) => {
  test.each(EXAMPLES[op])('%s', async (_name, call) => {
    const res = await call();
    const body = await conforms(op, res);
    if (op === 'GET /docs') {
      expect(body).toContain('/docs/swagger-ui-bundle.js');
      for (const asset of ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/init.js']) {
        expect({ asset, status: (await fetch(`${app.url}${asset}`)).status }).toEqual({ asset, status: 200 });
      }
    }
    if (op === 'GET /v1/jobs/{id}/events' && res.status === 200) {
      // The terminal event carries the job JSON: it must match the documented Job schema too.
      const last = String(body).trim().split('\n\n').pop()!;
      expect(last).toMatch(/^id: \d+\nevent: completed\ndata: /);
      const jobSchema = spec.paths['/v1/jobs/{id}'].get.responses['200'].content['application/json'].schema;
      expect(z.fromJSONSchema(jobSchema).safeParse(JSON.parse(last.split('\ndata: ')[1])).success).toBe(true);
    }
  }, 120_000);
});

test('/docs renders every operation in a real browser, loading nothing from another origin', async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(app.url) && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    await page.goto(`${app.url}/docs`);
    await page.locator('.opblock').nth(operations().length - 1).waitFor({ timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBe(operations().length);
    expect(await page.locator('.opblock-summary-path').allTextContents()).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/listen', '/v1/audio/transcriptions']));
    expect(foreign).toEqual([]);
  } finally {
    await browser.close();
  }
}, 60_000);
