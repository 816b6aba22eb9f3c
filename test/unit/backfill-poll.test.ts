/**
 * backfill's wait for a job (api/cli/backfill.ts runBackfill): an answer no later poll can change (the key revoked:
 * 401) ends that file as failed with the API's sentence; it polled every second forever, so a key rotated during a
 * run hung the whole backfill.
 */
import * as path from 'node:path';
import { runBackfill } from '../../api/cli/backfill';

const FILE = path.resolve(__dirname, '../../../shared/audio/jfk.flac');
const JOB = '11111111-1111-4111-8111-111111111111';
const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

test('a 401 while waiting for a job ends that file as failed, with the reason', async () => {
  let polls = 0;
  globalThis.fetch = (async (url: string, init?: RequestInit) => {
    const u = String(url);
    if (u.includes('/v1/jobs?contentSha256=')) return json(200, { data: [], nextCursor: null });
    if (init?.method === 'POST') return json(202, { id: JOB, status: 'queued' });
    if (++polls > 3) throw new Error('polled on after the 401');
    return json(401, { error: { code: 'unauthorized', message: 'unknown or revoked API key' } });
  }) as typeof fetch;
  const problems: string[] = [];
  const summary = await runBackfill([{ path: FILE }], {
    apiUrl: 'http://127.0.0.1:9',
    apiKey: 'fsk_x_y',
    maxInFlight: 1,
    onProblem: (_f, m) => problems.push(m),
  });
  expect(summary).toMatchObject({ done: 0, failed: 1 });
  expect(problems.join('\n')).toMatch(/unauthorized: unknown or revoked API key/);
  expect(polls).toBe(1);
}, 20_000);
