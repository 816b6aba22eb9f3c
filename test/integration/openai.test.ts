/**
 * The official `openai` npm client, unchanged, with baseURL pointed at fairscribe: every
 * response_format parses and gives the right text; errors come in OpenAI's shape; retries are one job.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import OpenAI, { toFile } from 'openai';
import { parseSync } from 'subtitle';
import { startTestApp, type TestApp } from '../helpers/harness';
import { wer } from '../helpers/wer';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const JFK = path.join(AUDIO, 'jfk.wav');
const JFK_REFERENCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

const SYNC_LIMIT_S = 20; // jfk (11 s) is under it, jfk twice over
let app: TestApp;
let client: OpenAI;
let userId: string;
let apiKey: string;

beforeAll(async () => {
  app = await startTestApp({ SYNC_MAX_AUDIO_S: String(SYNC_LIMIT_S) });
  ({ userId, apiKey } = await app.user('premium'));
  client = new OpenAI({ apiKey, baseURL: `${app.url}/v1`, maxRetries: 0 });
}, 120_000);
afterAll(() => app?.stop(), 60_000);

const cueText = (body: string) =>
  parseSync(body)
    .filter((n) => n.type === 'cue')
    .map((n) => (n.data as { text: string }).text)
    .join(' ');

test('every response_format through the official client', async () => {
  const file = () => fs.createReadStream(JFK);
  const json = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1' });
  expect(wer(JFK_REFERENCE, json.text)).toBeLessThanOrEqual(0.1);
  // OpenAI's duration usage: the seconds this job was billed (jfk is 11 s of speech).
  const billed = async () => (await app.pool.query(`SELECT billed_seconds FROM jobs WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1`, [userId])).rows[0].billed_seconds;
  expect(json.usage).toEqual({ type: 'duration', seconds: await billed() });
  expect(json.usage).toMatchObject({ seconds: expect.any(Number) });
  expect((json.usage as { seconds: number }).seconds).toBeGreaterThanOrEqual(10);

  const text = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'text' });
  expect(wer(JFK_REFERENCE, text as unknown as string)).toBeLessThanOrEqual(0.1);

  const srt = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'srt' });
  expect(wer(JFK_REFERENCE, cueText(srt as unknown as string))).toBeLessThanOrEqual(0.1);

  const vtt = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: 'vtt' });
  expect((vtt as unknown as string).startsWith('WEBVTT')).toBe(true);
  expect(wer(JFK_REFERENCE, cueText(vtt as unknown as string))).toBeLessThanOrEqual(0.1);

  const verbose = await client.audio.transcriptions.create({
    file: file(),
    model: 'whisper-base',
    response_format: 'verbose_json',
    timestamp_granularities: ['segment'],
  });
  expect(verbose.language).toBe('english');
  expect((verbose as unknown as { languages: unknown }).languages).toEqual([{ code: 'en' }]);
  expect(verbose.duration).toBeCloseTo(11, 0);
  expect(verbose.segments!.length).toBeGreaterThan(0);
  expect(verbose.usage).toEqual({ type: 'duration', seconds: await billed() });
  expect(wer(JFK_REFERENCE, verbose.text)).toBeLessThanOrEqual(0.1);

  // Asked again within minutes in another format, the same audio and parameters are the same job: the
  // four whisper-1 calls are one job, the whisper-base call another.
  const { rows } = await app.pool.query(`SELECT count(*)::int AS n FROM usage_ledger WHERE user_id = $1 AND kind = 'charge'`, [userId]);
  expect(rows[0].n).toBe(2);
}, 180_000);

test('translations run a multilingual model and answer in English', async () => {
  const r = await client.audio.translations.create({ file: fs.createReadStream(JFK), model: 'whisper-1' });
  expect(wer(JFK_REFERENCE, r.text)).toBeLessThanOrEqual(0.15);
}, 120_000);

test('verbose_json `language` is a string for an all-silent file: english and no languages heard, else the requested language; translations english', async () => {
  // No speech: no window reaches the model, nothing is detected and the job JSON keeps language null; the official
  // client types verbose_json's language as a string (api/openai-language.ts says which one and why).
  const silent = path.join(os.tmpdir(), `silence-${process.pid}.wav`);
  execFileSync('sox', ['-R', '-n', '-r', '16000', '-c', '1', '-b', '16', silent, 'trim', '0', '5']);
  type Verbose = { language: unknown; languages?: unknown; text: string };
  try {
    const plain = (await client.audio.transcriptions.create({ file: fs.createReadStream(silent), model: 'whisper-base', response_format: 'verbose_json' })) as unknown as Verbose;
    expect(plain).toMatchObject({ language: 'english', languages: [], text: '' });
    const french = (await client.audio.transcriptions.create({
      file: fs.createReadStream(silent),
      model: 'whisper-base',
      language: 'fr',
      response_format: 'verbose_json',
    })) as unknown as Verbose;
    expect(french).toMatchObject({ language: 'french', languages: [], text: '' });
    const english = (await client.audio.transcriptions.create({ file: fs.createReadStream(silent), model: 'whisper-tiny.en', response_format: 'verbose_json' })) as unknown as Verbose;
    expect(english).toMatchObject({ language: 'english', languages: [] });
    const translated = (await client.audio.translations.create({ file: fs.createReadStream(silent), model: 'whisper-1', response_format: 'verbose_json' })) as unknown as Verbose;
    expect(translated.language).toBe('english');
    expect(translated.languages).toBeUndefined();
  } finally {
    fs.rmSync(silent, { force: true });
  }
}, 120_000);

test("language in ISO 639-1 where Whisper spells it otherwise (jv = Whisper's jw, iw = he) is accepted and named in verbose_json", async () => {
  const silent = path.join(os.tmpdir(), `silence-iso-${process.pid}.wav`);
  execFileSync('sox', ['-R', '-n', '-r', '16000', '-c', '1', '-b', '16', silent, 'trim', '0', '3']);
  try {
    for (const [language, name, code] of [['jv', 'javanese', 'jw'], ['iw', 'hebrew', 'he']] as const) {
      const r = (await client.audio.transcriptions.create({
        file: fs.createReadStream(silent),
        model: 'whisper-base',
        language,
        response_format: 'verbose_json',
      })) as unknown as { language: string };
      expect(r.language).toBe(name);
      // the job ran with Whisper's own token
      const { rows } = await app.pool.query(`SELECT options->>'language' AS language FROM jobs WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1`, [userId]);
      expect(rows[0].language).toBe(code);
    }
  } finally {
    fs.rmSync(silent, { force: true });
  }
}, 120_000);

test('timestamp_granularities without [] (curl -F timestamp_granularities=word) is the same field as timestamp_granularities[]', async () => {
  const post = async (fields: [string, string][]) => {
    const form = new FormData();
    form.append('model', 'whisper-tiny.en');
    form.append('response_format', 'verbose_json');
    for (const [k, v] of fields) form.append(k, v);
    form.append('file', new Blob([fs.readFileSync(JFK)]), 'jfk.wav');
    const res = await fetch(`${app.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: form });
    return { status: res.status, body: (await res.json()) as { words?: { word: string }[]; segments?: unknown[]; error?: unknown } };
  };
  const bare = await post([['timestamp_granularities', 'word']]);
  expect(bare.status).toBe(200);
  expect(bare.body.words!.length).toBeGreaterThan(15);
  expect(bare.body.segments).toBeUndefined();
  const both = await post([['timestamp_granularities', 'word'], ['timestamp_granularities[]', 'segment']]);
  expect(both.status).toBe(200);
  expect(both.body.words!.length).toBeGreaterThan(15);
  expect(both.body.segments!.length).toBeGreaterThan(0);
  const bad = await post([['timestamp_granularities', 'char']]);
  expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', param: 'timestamp_granularities' } } });
}, 120_000);

test('a retry with the same Idempotency-Key or the same content is the same job, charged once', async () => {
  const { userId: u, apiKey: k } = await app.user('standard');
  const c = new OpenAI({ apiKey: k, baseURL: `${app.url}/v1`, maxRetries: 0 });
  const data = fs.readFileSync(JFK);
  const calls = await Promise.all(
    [0, 1, 2].map(async () =>
      c.audio.transcriptions.create(
        { file: await toFile(data, 'jfk.wav'), model: 'whisper-1' },
        { headers: { 'Idempotency-Key': 'retry-1' } },
      ),
    ),
  );
  for (const r of calls) expect(wer(JFK_REFERENCE, r.text)).toBeLessThanOrEqual(0.1);
  const again = await c.audio.transcriptions.create({ file: await toFile(data, 'jfk.wav'), model: 'whisper-1' });
  expect(wer(JFK_REFERENCE, again.text)).toBeLessThanOrEqual(0.1);
  const { rows } = await app.pool.query(`SELECT kind, count(*)::int AS n FROM usage_ledger WHERE user_id = $1 GROUP BY kind ORDER BY kind`, [u]);
  // the keyed call and the unkeyed one differ in key, so at most two jobs; the three keyed calls are one
  expect(rows.find((r) => r.kind === 'charge')!.n).toBeLessThanOrEqual(2);
  const jobs = await app.pool.query('SELECT count(*)::int AS n FROM jobs WHERE user_id = $1', [u]);
  expect(jobs.rows[0].n).toBe(2);
}, 180_000);

test("errors in OpenAI's shape: bad key, unknown format, a model the tier may not use, audio over the sync limit", async () => {
  const bad = new OpenAI({ apiKey: 'fsk_AAAAAAAAAAAA_' + 'x'.repeat(43), baseURL: `${app.url}/v1`, maxRetries: 0 });
  await expect(bad.audio.transcriptions.create({ file: fs.createReadStream(JFK), model: 'whisper-1' })).rejects.toMatchObject({
    status: 401,
    error: { type: 'authentication_error', code: 'unauthorized' },
  });
  await expect(
    client.audio.transcriptions.create({ file: fs.createReadStream(JFK), model: 'whisper-1', response_format: 'docx' as never }),
  ).rejects.toMatchObject({ status: 400, error: { type: 'invalid_request_error', code: 'invalid_request', param: 'response_format' } });
  await expect(
    client.audio.transcriptions.create({ file: fs.createReadStream(JFK), model: 'whisper-1', temperature: 1.5 }),
  ).rejects.toMatchObject({ status: 400, error: { code: 'invalid_request', param: 'temperature' } });
  const { apiKey: freeKey } = await app.user('free');
  const free = new OpenAI({ apiKey: freeKey, baseURL: `${app.url}/v1`, maxRetries: 0 });
  await expect(free.audio.transcriptions.create({ file: fs.createReadStream(JFK), model: 'whisper-large-v3' })).rejects.toMatchObject({
    status: 400,
    error: { param: 'model' },
  });
  const long = path.join(os.tmpdir(), `jfk2-${process.pid}.wav`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '1', '-i', JFK, '-c:a', 'pcm_s16le', long]);
  await expect(client.audio.transcriptions.create({ file: fs.createReadStream(long), model: 'whisper-1' })).rejects.toMatchObject({
    status: 413,
    error: { type: 'invalid_request_error', code: 'audio_too_long', message: expect.stringContaining('/v1/jobs') },
  });
  fs.rmSync(long, { force: true });
  const list = await client.models.list();
  expect(list.data.map((m) => m.id)).toEqual(expect.arrayContaining(['whisper-base', 'whisper-tiny.en', 'whisper-1']));
  // GET /v1/models/:id in OpenAI's shape; whisper-1 is the alias of the tier's default model.
  const one = await client.models.retrieve('whisper-1');
  expect(one).toMatchObject({ id: 'whisper-1', object: 'model', owned_by: 'fairscribe', aliasOf: expect.stringMatching(/^whisper-/) });
  expect(list.data.map((m) => m.id)).toContain((one as unknown as { aliasOf: string }).aliasOf);
  expect(await client.models.retrieve('whisper-base')).toMatchObject({ id: 'whisper-base', object: 'model', created: expect.any(Number) });
  await expect(client.models.retrieve('gpt-4o-transcribe')).rejects.toMatchObject({
    status: 404,
    error: { type: 'invalid_request_error', code: 'not_found', param: 'model', message: expect.stringMatching(/gpt-4o-transcribe/) },
  });
}, 120_000);

test("chunking_strategy as the official client sends its object (chunking_strategy[type]=server_vad, …) is accepted like 'auto'", async () => {
  const r = await client.audio.transcriptions.create({
    file: fs.createReadStream(JFK),
    model: 'whisper-1',
    chunking_strategy: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 200 },
  });
  expect(wer(JFK_REFERENCE, r.text)).toBeLessThan(0.1);
  // Other bracketed names are still unknown fields, named one by one in OpenAI's `param`.
  const form = new FormData();
  form.append('model', 'whisper-1');
  form.append('file', new Blob([fs.readFileSync(JFK)]), 'jfk.wav');
  form.append('chunking[type]', 'x');
  form.append('x'.repeat(90), 'y');
  const res = await fetch(`${app.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: form });
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { message: string; param: string } };
  expect(body.error.param).toBe('chunking[type]');
  // A hostile field name is not echoed back whole.
  expect(body.error.message).toBe(`unknown field(s): chunking[type], ${'x'.repeat(37)}…`);
}, 120_000);

test('audio that passes admission and then cannot be decoded: 422 unsupported_audio with param file, the same when streamed', async () => {
  // jfk.flac with its header, first and last frames intact and 600 KB of noise between them: admission reads
  // headers only (and finds frames at both ends), the full decode finds the damage (preparation.test.ts does the
  // same through /v1/jobs). Not a cut WAV: that is shorter audio, as admission treats it (audio/header-probe.ts).
  const cut = path.join(os.tmpdir(), `jfk-damaged-${process.pid}.flac`);
  const flac = Buffer.from(fs.readFileSync(path.join(AUDIO, 'jfk.flac')));
  crypto.randomFillSync(flac, 200_000, 600_000);
  fs.writeFileSync(cut, flac);
  try {
    await expect(client.audio.transcriptions.create({ file: fs.createReadStream(cut), model: 'whisper-1' })).rejects.toMatchObject({
      status: 422,
      error: { type: 'invalid_request_error', code: 'unsupported_audio', param: 'file' },
    });
    const events = async () => {
      for await (const _ of await client.audio.transcriptions.create({ file: fs.createReadStream(cut), model: 'whisper-1', stream: true, temperature: 0.1 })) {
        // no deltas: the audio fails before any chunk
      }
    };
    await expect(events()).rejects.toMatchObject({ error: { type: 'invalid_request_error', code: 'unsupported_audio', param: 'file' } });
  } finally {
    fs.rmSync(cut, { force: true });
  }
}, 120_000);
