/**
 * Bad input answers with our error codes (docs/api.md) and leaves nothing behind: no job row, no blob, no workflow.
 * A test tier table makes the limits small enough to hit with the sample audio.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { DEFAULT_TIERS } from '../../common/tiers';
import { NON_FILE_BODY_MAX_BYTES } from '../../api/early-refusal';
import { blobFolders, startTestApp, submitFile, type TestApp } from '../helpers/harness';
import { createEdgeJob } from '../helpers/edge';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const SMALL_FILE_LIMIT = 400_000; // bytes: jfk.flac (1.15 MB) is over, its M4A/MP3 (~180 KB) under
const SHORT_AUDIO_LIMIT = 5; // seconds: jfk (11 s) is over

let app: TestApp;
let freeKey: string;
let premiumKey: string;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-bad-'));
  const tiers = structuredClone(DEFAULT_TIERS);
  tiers.free.maxFileBytes = SMALL_FILE_LIMIT;
  tiers.free.maxAudioSeconds = SHORT_AUDIO_LIMIT;
  // One second a day: spent by a seeded job below, after which every upload is over the quota.
  tiers.standard.dailySeconds = 1;
  const tiersFile = path.join(tmp, 'tiers.json');
  fs.writeFileSync(tiersFile, JSON.stringify(tiers));
  app = await startTestApp({ FAIRSCRIBE_TIERS_FILE: tiersFile });
  freeKey = (await app.user('free')).apiKey;
  premiumKey = (await app.user('premium')).apiKey;
  const jfk = path.join(AUDIO, 'jfk.flac');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', jfk, '-c:a', 'aac', path.join(tmp, 'jfk.m4a')]);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', jfk, path.join(tmp, 'jfk.mp3')]);
  for (const f of ['jfk.m4a', 'jfk.mp3']) {
    const data = fs.readFileSync(path.join(tmp, f));
    fs.writeFileSync(path.join(tmp, `truncated-${f}`), data.subarray(0, data.length >> 1));
  }
  const flac = fs.readFileSync(jfk);
  fs.writeFileSync(path.join(tmp, 'truncated-jfk.flac'), flac.subarray(0, flac.length >> 1));
  fs.writeFileSync(path.join(tmp, 'empty.wav'), '');
  fs.writeFileSync(path.join(tmp, 'notes.wav'), 'this is a text file, not audio\n'.repeat(50));
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

/** Nothing was admitted: no job rows and no blobs. */
async function expectNothingLeft() {
  const { rows } = await app.pool.query('SELECT count(*)::int AS n FROM jobs');
  expect(rows[0].n).toBe(0);
  const blobs = blobFolders(app);
  expect(blobs).toEqual([]);
}

async function expectError(res: Response, status: number, code: string) {
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(body.error.message.length).toBeGreaterThan(10);
  return body;
}

describe('authentication', () => {
  test.each([
    ['no Authorization header', undefined],
    ['malformed header', 'Token abc'],
    ['unknown key', 'Bearer fsk_AAAAAAAAAAAA_' + 'x'.repeat(43)],
    ['garbage key', 'Bearer not-a-key'],
  ])('%s → 401 unauthorized', async (_name, header) => {
    const res = await fetch(`${app.url}/v1/jobs/00000000-0000-0000-0000-000000000000`, {
      headers: header ? { authorization: header } : {},
    });
    await expectError(res, 401, 'unauthorized');
  });

  test('the auth scheme name is case-insensitive: "bearer <key>" works', async () => {
    const res = await fetch(`${app.url}/v1/jobs`, { headers: { authorization: `bearer ${freeKey}` } });
    expect(res.status).toBe(200);
  });

  test('oversized headers → 431 headers_too_large in our JSON shape', async () => {
    const res = await fetch(`${app.url}/v1/jobs`, { headers: { 'x-big': 'a'.repeat(20_000), authorization: `Bearer ${freeKey}` } });
    await expectError(res, 431, 'headers_too_large');
  });
});

test('a JSON body over the limit → 413 body_too_large saying how large it may be', async () => {
  const res = await fetch(`${app.url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${freeKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: 'listen', pad: 'x'.repeat(200_000) }),
  });
  const body = await expectError(res, 413, 'body_too_large');
  expect(body.error.message).toMatch(/JSON body is \d+ bytes; at most \d+ bytes are accepted/);
});

describe('POST /v1/jobs refuses and leaves nothing behind', () => {
  afterEach(expectNothingLeft);

  test('missing file → 400 missing_file', async () => {
    const form = new FormData();
    form.append('language', 'en');
    const res = await fetch(`${app.url}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${freeKey}` } });
    await expectError(res, 400, 'missing_file');
  });

  test('not multipart → 415 unsupported_media_type', async () => {
    const res = await fetch(`${app.url}/v1/jobs`, {
      method: 'POST',
      body: JSON.stringify({ file: 'x' }),
      headers: { authorization: `Bearer ${freeKey}`, 'content-type': 'application/json' },
    });
    await expectError(res, 415, 'unsupported_media_type');
  });

  test('a compressed multipart body → 415 naming Content-Encoding, not "malformed multipart body"', async () => {
    // express.json inflates gzip JSON; busboy reads multipart as it is, so a gzip upload was "cut short" (400).
    const { gzipSync } = await import('node:zlib');
    const multipart = Buffer.concat([
      Buffer.from('--XX\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n\r\n'),
      fs.readFileSync(path.join(tmp, 'jfk.mp3')),
      Buffer.from('\r\n--XX--\r\n'),
    ]);
    for (const url of [`${app.url}/v1/jobs`, `${app.url}/v1/audio/transcriptions`]) {
      const res = await fetch(url, {
        method: 'POST',
        body: gzipSync(multipart),
        headers: { authorization: `Bearer ${freeKey}`, 'content-type': 'multipart/form-data; boundary=XX', 'content-encoding': 'gzip' },
      });
      expect(res.status).toBe(415);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error).toMatchObject({ code: 'unsupported_media_type', message: expect.stringMatching(/^Content-Encoding gzip is not supported for uploads/) });
    }
  });

  test('unknown field → 400 invalid_request naming it', async () => {
    const res = await submitFile(app.url, freeKey, path.join(tmp, 'jfk.mp3'), { colour: 'blue' });
    const body = await expectError(res, 400, 'invalid_request');
    expect(body.error.message).toContain('colour');
  });

  test('a field of the wrong type → 400 invalid_request', async () => {
    const res = await submitFile(app.url, freeKey, path.join(tmp, 'jfk.mp3'), { requireHighAccuracy: 'maybe' });
    const body = await expectError(res, 400, 'invalid_request');
    expect(body.error.message).toContain('requireHighAccuracy');
  });

  test('a repeated file part → 400 invalid_request', async () => {
    const form = new FormData();
    const data = new Blob([fs.readFileSync(path.join(tmp, 'jfk.mp3'))]);
    form.append('file', data, 'a.mp3');
    form.append('file', data, 'b.mp3');
    const res = await fetch(`${app.url}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${freeKey}` } });
    await expectError(res, 400, 'invalid_request');
  });

  test.each(['empty.wav', 'notes.wav', 'truncated-jfk.flac', 'truncated-jfk.mp3', 'truncated-jfk.m4a'])(
    '%s → 422 unsupported_audio',
    async (name) => {
      const res = await submitFile(app.url, premiumKey, path.join(tmp, name));
      const body = await expectError(res, 422, 'unsupported_audio');
      // ffmpeg names its input by path: the message must not show the server's directories.
      expect(body.error.message).not.toContain(app.config.blobDir);
      expect(body.error.message).not.toMatch(/\/[\w.-]+\//);
    },
  );

  test('a language Whisper does not know → 400 invalid_request at admission, not a failed job later', async () => {
    for (const language of ['xx', 'zz']) {
      const res = await submitFile(app.url, premiumKey, path.join(tmp, 'jfk.mp3'), { language });
      const body = await expectError(res, 400, 'invalid_request');
      expect(body.error.message).toContain('language');
    }
  });

  test("a text field named 'file' → 400 missing_file saying it must be a file part", async () => {
    const form = new FormData();
    form.append('file', 'notafile');
    const res = await fetch(`${app.url}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${freeKey}` } });
    const body = await expectError(res, 400, 'missing_file');
    expect(body.error.message).toMatch(/file part/);
  });

  test('over the tier size limit → 413 file_too_large while streaming', async () => {
    const res = await submitFile(app.url, freeKey, path.join(AUDIO, 'jfk.flac'));
    const body = await expectError(res, 413, 'file_too_large');
    expect(body.error).toMatchObject({ limit: SMALL_FILE_LIMIT });
  });

  test('over the tier duration limit → 413 audio_too_long', async () => {
    const res = await submitFile(app.url, freeKey, path.join(tmp, 'jfk.m4a'));
    const body = await expectError(res, 413, 'audio_too_long');
    expect(body.error).toMatchObject({ limit: SHORT_AUDIO_LIMIT });
  });

  test('an English-only model with another language → 400 invalid_request saying why', async () => {
    const res = await submitFile(app.url, premiumKey, path.join(tmp, 'jfk.mp3'), { model: 'whisper-tiny.en', language: 'de' });
    const body = await expectError(res, 400, 'invalid_request');
    expect(body.error.message).toMatch(/English-only/);
  });

  test('a file name with path traversal or control characters → 400 invalid_request', async () => {
    for (const name of ['../../etc/passwd', 'a\u0001b.mp3']) {
      const res = await submitFile(app.url, premiumKey, { name, data: fs.readFileSync(path.join(tmp, 'jfk.mp3')) });
      await expectError(res, 400, 'invalid_request');
    }
  });
});

/**
 * Sends only a POST's head (declaring `contentLength` bytes of multipart body) and none of the body;
 * resolves with what the server answered, or null if it did not answer within `waitMs`.
 */
function headOnly(key: string, contentLength: number, extra = '', waitMs = 2_000): Promise<{ text: string; ms: number } | null> {
  return new Promise((resolve) => {
    const socket = net.connect((app.api.server.address() as AddressInfo).port, '127.0.0.1');
    const t0 = Date.now();
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, waitMs);
    socket.on('data', (d) => {
      text += d.toString();
      if (text.includes('\r\n\r\n') && text.includes('}')) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ text, ms: Date.now() - t0 });
      }
    });
    socket.on('error', () => undefined);
    socket.write(
      `POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n${extra}` +
        `Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: ${contentLength}\r\n\r\n`,
    );
  });
}

describe('refused from the headers, before the body is read (api/early-refusal.ts)', () => {
  /** Job rows and blob folders other than `keep`: the refused requests must leave none. */
  async function expectNoOtherJob(keep: string[]) {
    const { rows } = await app.pool.query('SELECT id FROM jobs');
    expect(rows.map((r) => r.id).filter((id: string) => !keep.includes(id))).toEqual([]);
    const blobs = blobFolders(app);
    expect(blobs.filter((b) => !keep.includes(b))).toEqual([]);
  }

  test('a declared size over the file limit plus any fields → 413 file_too_large without the body', async () => {
    const answer = await headOnly(freeKey, SMALL_FILE_LIMIT + NON_FILE_BODY_MAX_BYTES + 1);
    expect(answer?.text).toMatch(/^HTTP\/1\.1 413/);
    expect(answer?.text).toContain('"code":"file_too_large"');
    await expectNoOtherJob([]);
    // Within the file limit plus the fields a body may carry: the streaming check decides, so no early answer.
    expect(await headOnly(freeKey, SMALL_FILE_LIMIT + 1_000, '', 500)).toBeNull();
  });

  test('a spent daily quota → 429 quota_exceeded without the body, as admission answers a small upload', async () => {
    const { userId, apiKey } = await app.user('standard'); // 1 s a day here
    // A finished job that was charged the day's one second.
    const spent = crypto.randomUUID();
    const tx = await app.pool.connect();
    try {
      await tx.query('BEGIN');
      await tx.query(`INSERT INTO jobs (id, user_id, tier, model, options) VALUES ($1, $2, 'standard', 'whisper-tiny.en', '{}')`, [spent, userId]);
      expect(await app.deps.quota.reserve(tx, { userId, jobId: spent, seconds: 1 }, app.config.tiers.standard)).toMatchObject({ ok: true });
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
    await app.deps.quota.settle(spent, 1);
    const answer = await headOnly(apiKey, NON_FILE_BODY_MAX_BYTES + 10_000);
    expect(answer?.text).toMatch(/^HTTP\/1\.1 429/);
    expect(answer?.text).toContain('"code":"quota_exceeded"');
    // A body small enough to be a privacy-mode request is read, and admission refuses its file the same way.
    const refused = (await expectError(await submitFile(app.url, apiKey, path.join(tmp, 'jfk.mp3')), 429, 'quota_exceeded')) as unknown as {
      error: { used: number; limit: number; resetAt: string };
    };
    await expectNoOtherJob([spent]);
    // GET /v1/usage shows the same numbers the refusal gave, without making a job.
    const usage = await fetch(`${app.url}/v1/usage`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(usage.status).toBe(200);
    expect(await usage.json()).toMatchObject({
      tier: 'standard',
      day: new Date().toISOString().slice(0, 10),
      usedSeconds: refused.error.used,
      billedSeconds: 1,
      limitSeconds: refused.error.limit,
      remainingSeconds: 0,
      resetAt: refused.error.resetAt,
      activeJobs: 0,
      limits: { dailySeconds: 1, concurrentJobs: app.config.tiers.standard.concurrentJobs },
    });
    await expectNoOtherJob([spent]);
  });

  test('every concurrency slot held → 429 concurrency_limit without the body; not with an Idempotency-Key', async () => {
    const free = await app.user('free'); // concurrentJobs 1, held by a privacy-mode job
    const edge = await createEdgeJob(app.url, free.apiKey, { allowFallback: 'true' });
    try {
      const answer = await headOnly(free.apiKey, 50_000);
      expect(answer?.text).toMatch(/^HTTP\/1\.1 429/);
      expect(answer?.text).toContain('"code":"concurrency_limit"');
      expect(answer?.text).toMatch(/retry-after: 30/i);
      const { rows } = await app.pool.query('SELECT id FROM jobs WHERE user_id = $1', [free.userId]);
      expect(rows.map((r) => r.id)).toEqual([edge.id]);
      // A retry carrying an Idempotency-Key may be answered with its first job: its body is read.
      expect(await headOnly(free.apiKey, 50_000, 'Idempotency-Key: k1\r\n', 500)).toBeNull();
    } finally {
      expect((await fetch(`${app.url}/v1/jobs/${edge.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${free.apiKey}` } })).status).toBe(204);
    }
  }, 30_000);

});

test('a file name over 255 bytes → 400 invalid_request saying so (the name is stored with the job)', async () => {
  const form = new FormData();
  form.append('file', new Blob([fs.readFileSync(path.join(tmp, 'jfk.mp3'))]), `${'a'.repeat(300)}.mp3`);
  const res = await fetch(`${app.url}/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${premiumKey}` }, body: form });
  const body = await expectError(res, 400, 'invalid_request');
  expect(body.error.message).toBe('the file name is 304 bytes; at most 255 are accepted');
  // 255 bytes of a non-ASCII name (85 three-byte characters) are fine.
  const ok = new FormData();
  ok.append('file', new Blob([fs.readFileSync(path.join(tmp, 'jfk.mp3'))]), `${'録'.repeat(83)}.mp3`);
  const admitted = await fetch(`${app.url}/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${premiumKey}` }, body: ok });
  expect(admitted.status).toBe(202);
  const { id } = (await admitted.json()) as { id: string };
  expect((await fetch(`${app.url}/v1/jobs/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${premiumKey}` } })).status).toBe(204);
});

describe('a multipart body that cannot be parsed → 400 in our words, not the parser\'s', () => {
  const raw = (body: string) =>
    fetch(`${app.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${premiumKey}`, 'content-type': 'multipart/form-data; boundary=XX' },
      body,
    });
  test.each([
    ['cut before its closing boundary', '--XX\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nabc', /ends before its closing boundary/],
    ['a part without headers', '--XX\r\nGarbage\r\n\r\nabc\r\n--XX--\r\n', /a part's headers cannot be read/],
  ])('%s', async (_name, body, message) => {
    const answer = await expectError(await raw(body), 400, 'invalid_request');
    expect(answer.error.message).toMatch(message);
    expect(answer.error.message).not.toMatch(/Unexpected end of form|Malformed part header/);
  });
});

describe('GET /v1/usage', () => {
  const usage = (key: string, query = '') => fetch(`${app.url}/v1/usage${query}`, { headers: { authorization: `Bearer ${key}` } });

  test("a new free user sees the whole day's quota left, the tier's limits, and only their own numbers", async () => {
    const res = await usage(freeKey);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    const tomorrow = new Date(Date.now() + 24 * 3600 * 1000).toISOString().slice(0, 10);
    expect(body).toEqual({
      tier: 'free',
      day: new Date().toISOString().slice(0, 10),
      usedSeconds: 0,
      billedSeconds: 0,
      limitSeconds: DEFAULT_TIERS.free.dailySeconds,
      remainingSeconds: DEFAULT_TIERS.free.dailySeconds,
      resetAt: `${tomorrow}T00:00:00.000Z`,
      activeJobs: 0,
      limits: {
        dailySeconds: DEFAULT_TIERS.free.dailySeconds,
        concurrentJobs: DEFAULT_TIERS.free.concurrentJobs,
        maxFileBytes: SMALL_FILE_LIMIT,
        maxAudioSeconds: SHORT_AUDIO_LIMIT,
        requestsPerMinute: DEFAULT_TIERS.free.requestsPerMinute,
      },
    });
    // Premium is unlimited: null, not a number.
    expect(await (await usage(premiumKey)).json()).toMatchObject({ tier: 'premium', limitSeconds: null, remainingSeconds: null });
    // A past day.
    expect(await (await usage(freeKey, '?day=2026-01-31')).json()).toMatchObject({ day: '2026-01-31', usedSeconds: 0, resetAt: '2026-02-01T00:00:00.000Z' });
  });

  test.each([
    ['?day=yesterday', /^day: must be a UTC day as YYYY-MM-DD/],
    ['?day=2026-02-30', /^day: must be a real calendar day/],
    ['?day=2026-01-01&day=2026-01-02', /^day: was given more than once/],
    ['?user=someone-else', /^unknown field\(s\): user/],
    ['?day=', /^day: given empty; give a value or leave it out$/],
  ])('%s → 400 invalid_request in our words', async (query, message) => {
    const body = await expectError(await usage(freeKey, query), 400, 'invalid_request');
    expect(body.error.message).toMatch(message);
  });

  test('no key → 401', async () => {
    await expectError(await fetch(`${app.url}/v1/usage`), 401, 'unauthorized');
  });
});

describe("a field's error names the field in our words, never zod's (Invalid input, Too big, expected … received)", () => {
  const ZOD_WORDING = /Invalid input|Invalid option|Invalid string|Too big|Too small|expected .* received|<=|>=/;
  const fields = (f: Record<string, string>) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(f)) form.append(k, v);
    form.append('file', new Blob([fs.readFileSync(path.join(tmp, 'jfk.mp3'))]), 'jfk.mp3');
    return form;
  };
  const post = (route: string, f: Record<string, string>) =>
    fetch(`${app.url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${premiumKey}` }, body: fields(f) });
  const get = (route: string) => fetch(`${app.url}${route}`, { headers: { authorization: `Bearer ${premiumKey}` } });

  test.each([
    ['POST /v1/jobs temperature=hot', () => post('/v1/jobs', { temperature: 'hot' }), /^temperature: must be a number$/],
    ['POST /v1/jobs temperature=5', () => post('/v1/jobs', { temperature: '5' }), /^temperature: must be at most 1 \(got 5\)$/],
    ['POST /v1/jobs task=summarise', () => post('/v1/jobs', { task: 'summarise' }), /^task: must be one of transcribe, translate \(got "summarise"\)$/],
    ['POST /v1/jobs prompt of 5000 chars', () => post('/v1/jobs', { prompt: 'x'.repeat(5000) }), /^prompt: must be at most 1000 characters \(got 5000\)$/],
    ['POST /v1/jobs model=""', () => post('/v1/jobs', { model: '' }), /^model: must not be empty$/],
    ['POST /v1/jobs retainAudioSeconds=1.5', () => post('/v1/jobs', { retainAudioSeconds: '1.5' }), /^retainAudioSeconds: must be a whole number/],
    ['POST /v1/jobs multichannel=yes', () => post('/v1/jobs', { multichannel: 'yes' }), /^multichannel: must be one of true, false \(got "yes"\)$/],
    ['GET /v1/jobs?limit=abc', () => get('/v1/jobs?limit=abc'), /^limit: must be a number$/],
    ['GET /v1/jobs?status=done', () => get('/v1/jobs?status=done'), /^status: must be one of queued, running/],
    ['GET /v1/jobs?limit=1&limit=2', () => get('/v1/jobs?limit=1&limit=2'), /^limit: /],
    // An empty parameter (a blank form field) is named as such, never read as 0 ("must be at least 1 (got 0)").
    ['GET /v1/jobs?limit=&status=', () => get('/v1/jobs?limit=&status='), /^limit, status: given empty; give values or leave them out$/],
    ['GET /v1/jobs/:id/transcript?maxLineWidth=', () => get(`/v1/jobs/${crypto.randomUUID()}/transcript?format=srt&maxLineWidth=`), /^maxLineWidth: given empty/],
  ])('%s', async (_name, call, message) => {
    const body = await expectError(await call(), 400, 'invalid_request');
    expect(body.error.message).toMatch(message);
    expect(body.error.message).not.toMatch(ZOD_WORDING);
  });

  test('OpenAI route: our sentence in message, the field in param', async () => {
    const res = await post('/v1/audio/transcriptions', { model: 'whisper-1', response_format: 'xml' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; param: string; type: string } };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param: 'response_format' });
    expect(body.error.message).toBe('response_format: must be one of json, text, srt, vtt, verbose_json (got "xml")');
    const noModel = (await (await post('/v1/audio/transcriptions', {})).json()) as { error: { message: string; param: string } };
    expect(noModel.error).toMatchObject({ message: 'model: is required', param: 'model' });
    const logprobs = (await (await post('/v1/audio/transcriptions', { model: 'whisper-1', 'include[]': 'logprobs' })).json()) as { error: { message: string } };
    expect(logprobs.error.message).toMatch(/^include\[\]: logprobs is not available: /);
  });
});

describe('GET /v1/jobs/:id', () => {
  test('unknown and malformed ids → 404 not_found', async () => {
    for (const id of ['00000000-0000-0000-0000-000000000000', 'not-a-uuid', '..%2F..%2Fetc']) {
      const res = await fetch(`${app.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${freeKey}` } });
      await expectError(res, 404, 'not_found');
    }
  });
});
