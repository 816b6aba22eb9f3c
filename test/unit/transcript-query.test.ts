/**
 * GET /v1/jobs/:id/transcript's query, checked before the job is read (api/routes/jobs.ts): a parameter it does not
 * know is refused by name, as GET /v1/jobs and GET /v1/usage refuse theirs (API.md: a field "not in this table
 * (say which)" is 400 invalid_request). A caption editor's typo (`maxLinewidth=42`) used to be ignored: 200 with
 * captions not laid out at all. A parameter given twice says so, on every route that parses a query.
 */
import express from 'express';
import type { Server } from 'node:http';
import { errorHandler } from '../../api/errors';
import { jobsRouter } from '../../api/routes/jobs';
import { usageRouter } from '../../api/routes/usage';
import { createLogger } from '../../common/log';
import type { ApiDeps } from '../../api/app';
import { listenOnLoopback } from '../helpers/listen';

let server: Server;
let base: string;
const JOB = '6a1f0e0e-0000-4000-8000-000000000000';
let dbTouched = 0;

beforeAll(async () => {
  const pool = { query: async () => ((dbTouched++), { rows: [] }), connect: async () => ((dbTouched++), {}) };
  const deps = { pool, config: { tiers: {} } } as unknown as ApiDeps;
  const app = express();
  app.use((req, _res, next) => {
    (req as any).principal = { userId: '00000000-0000-4000-8000-000000000001', tier: 'premium', keyId: 'k' };
    next();
  });
  app.use(jobsRouter(deps));
  app.use(usageRouter(deps));
  app.use(errorHandler(createLogger({ component: 'test' })));
  ({ server, base } = await listenOnLoopback(app));
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function get(path: string) {
  const res = await fetch(base + path);
  return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
}

test.each([
  ['format=srt&maxLinewidth=42&max_line_count=2', 'unknown field(s): maxLinewidth, max_line_count'],
  ['fromat=srt', 'unknown field(s): fromat'],
])('transcript?%s → 400 naming the unknown parameters, before the job is read', async (q, message) => {
  dbTouched = 0;
  const r = await get(`/v1/jobs/${JOB}/transcript?${q}`);
  expect(r.status).toBe(400);
  expect(r.body.error).toEqual({ code: 'invalid_request', message });
  expect(dbTouched).toBe(0);
});

test.each([
  [`/v1/jobs/${JOB}/transcript?format=srt&maxLineWidth=42&maxLineWidth=30`, 'maxLineWidth'],
  [`/v1/jobs/${JOB}/transcript?format=srt&format=vtt`, 'format'],
  ['/v1/jobs?limit=2&limit=3', 'limit'],
  ['/v1/usage?day=2026-12-07&day=2026-12-06', 'day'],
])('%s: a parameter given twice says so', async (path, name) => {
  const r = await get(path);
  expect(r.status).toBe(400);
  expect(r.body.error).toEqual({ code: 'invalid_request', message: `${name}: was given more than once; give it once` });
});
