/**
 * Bodies express.json cannot read (api/errors.ts errorHandler): our code and a sentence of ours, never
 * JSON.parse's own words; a 415 answers `unsupported_media_type`; OpenAI's routes answer in OpenAI's shape.
 * A real Express app on a free port, with the app's own JSON parser settings (api/app.ts).
 */
import express from 'express';
import type { Server } from 'node:http';
import { errorHandler } from '../../api/errors';
import { createLogger } from '../../common/log';
import { listenOnLoopback } from '../helpers/listen';

let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.use(express.json({ limit: '64kb' }));
  app.post('/v1/jobs', (_req, res) => void res.json({ ok: true }));
  app.post('/v1/audio/transcriptions', (_req, res) => void res.json({ ok: true }));
  app.post('/v1/jobs/:id/retranscribe', (_req, res) => void res.json({ ok: true }));
  app.post('/v1/tokens', (_req, res) => void res.json({ ok: true }));
  app.use(errorHandler(createLogger({ component: 'test' })));
  ({ server, base } = await listenOnLoopback(app));
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
}

describe('JSON bodies the parser refuses', () => {
  test('malformed JSON: 400 invalid_request with our sentence, not JSON.parse message', async () => {
    for (const body of ['{bad', '"str"']) {
      const r = await post('/v1/jobs', body);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toMatch(/^the body is not valid JSON/);
      expect(String(r.body.error.message)).not.toMatch(/Unexpected token|position|SyntaxError/);
    }
  });

  test("the sentence's example body is the route's own (a url is only POST /v1/jobs's)", async () => {
    const cases: [string, RegExp][] = [
      ['/v1/jobs', /\{"url": "https:\/\/…"\}/],
      ['/v1/jobs/6a1f0e0e-0000-4000-8000-000000000000/retranscribe', /\{"model": "whisper-base"\}/],
      ['/v1/tokens', /\{"jobId": "…"\} or \{"scope": "listen"\}/],
    ];
    for (const [path, example] of cases) {
      const r = await post(path, '{bad');
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(example);
    }
    const other = await post('/v1/audio/transcriptions', '{bad');
    expect(other.body.error.message).not.toMatch(/url/);
  });

  test('an unsupported charset or Content-Encoding: 415 unsupported_media_type', async () => {
    const charset = await post('/v1/jobs', '{}', { 'content-type': 'application/json; charset=latin-9' });
    expect(charset.status).toBe(415);
    expect(charset.body.error).toEqual({ code: 'unsupported_media_type', message: expect.stringContaining('LATIN-9') });
    const encoding = await post('/v1/jobs', '{}', { 'content-encoding': 'br2' });
    expect(encoding.status).toBe(415);
    expect(encoding.body.error).toEqual({ code: 'unsupported_media_type', message: expect.stringContaining('br2') });
  });

  test("OpenAI's routes answer in OpenAI's error shape", async () => {
    const r = await post('/v1/audio/transcriptions', '{bad');
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({
      message: expect.stringMatching(/^the body is not valid JSON/),
      type: 'invalid_request_error',
      code: 'invalid_request',
      param: null,
    });
  });

  test('a body over the limit stays 413 body_too_large', async () => {
    const r = await post('/v1/jobs', JSON.stringify({ prompt: 'x'.repeat(70_000) }));
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('body_too_large');
  });
});
