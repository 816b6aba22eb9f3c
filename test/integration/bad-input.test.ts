/**
 * Bad input answers with API.md's codes and leaves nothing behind: no job row, no blob, no workflow.
 * A test tier table makes the limits small enough to hit with the sample audio.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DEFAULT_TIERS } from '../../common/tiers';
import { startTestApp, submitFile, type TestApp } from '../helpers/harness';

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
  const blobs = fs.existsSync(app.config.blobDir) ? fs.readdirSync(app.config.blobDir) : [];
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

describe('GET /v1/jobs/:id', () => {
  test('unknown and malformed ids → 404 not_found', async () => {
    for (const id of ['00000000-0000-0000-0000-000000000000', 'not-a-uuid', '..%2F..%2Fetc']) {
      const res = await fetch(`${app.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${freeKey}` } });
      await expectError(res, 404, 'not_found');
    }
  });
});
