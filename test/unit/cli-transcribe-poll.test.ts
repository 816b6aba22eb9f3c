/**
 * The transcribe CLI's polling against answers other than the job: a free key (60 requests a minute) polling
 * every 300 ms is rate limited within 20 s, and the CLI must wait as the 429's Retry-After says instead of
 * reading the error body as a job ("undefined 0/? chunks"); an answer it cannot go on from (the key revoked,
 * the job deleted) ends the run with the API's sentence and exit 1, never a poll loop that never ends.
 */
import { main } from '../../api/cli/transcribe';
import { failureSentence } from '../../api/cli/usage-error';
import * as path from 'node:path';

const FILE = path.resolve(__dirname, '../../../shared/audio/jfk.flac');
const JOB = '11111111-1111-4111-8111-111111111111';

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

let out = '';
let err = '';
const realFetch = globalThis.fetch;
beforeEach(() => {
  out = '';
  err = '';
  process.env.FAIRSCRIBE_API_URL = 'http://127.0.0.1:9';
  process.env.FAIRSCRIBE_API_KEY = 'fsk_test_test';
  jest.spyOn(process.stdout, 'write').mockImplementation((s: any) => ((out += String(s)), true));
  jest.spyOn(process.stderr, 'write').mockImplementation((s: any) => ((err += String(s)), true));
});
afterEach(() => {
  globalThis.fetch = realFetch;
  jest.restoreAllMocks();
});

test('a 429 while polling waits for Retry-After and goes on; the text is printed once the job completes', async () => {
  const gets: number[] = [];
  globalThis.fetch = (async (_url: string, init?: RequestInit) => {
    if (init?.method === 'POST') return json(202, { id: JOB, status: 'queued' });
    gets.push(Date.now());
    if (gets.length === 1) return json(200, { id: JOB, status: 'running', progress: { chunksDone: 0, chunksTotal: 1 } });
    if (gets.length === 2) {
      return json(429, { error: { code: 'rate_limited', message: 'too many requests', limit: 60, used: 60, resetAt: null } }, { 'Retry-After': '1' });
    }
    return json(200, { id: JOB, status: 'completed', text: 'And so my fellow Americans', segments: [], progress: { chunksDone: 1, chunksTotal: 1 } });
  }) as typeof fetch;
  const code = await main([FILE]);
  expect(code).toBe(0);
  expect(out).toBe('And so my fellow Americans\n');
  expect(err).not.toMatch(/undefined/);
  expect(gets).toHaveLength(3);
  expect(gets[2] - gets[1]).toBeGreaterThanOrEqual(950); // waited as told
});

test('an error answer while polling (job deleted) ends with its code and sentence, exit 1', async () => {
  let n = 0;
  globalThis.fetch = (async (_url: string, init?: RequestInit) => {
    if (init?.method === 'POST') return json(202, { id: JOB, status: 'queued' });
    if (++n > 3) throw new Error('polled on after the 404');
    return json(404, { error: { code: 'not_found', message: 'no such job' } });
  }) as typeof fetch;
  const code = await main([FILE]);
  expect(code).toBe(1);
  expect(out).toBe('');
  expect(err).toMatch(/transcribe: 404 not_found: no such job/);
  expect(err).not.toMatch(/undefined/);
});

test('a refusal of the upload that is not JSON (a proxy page) is reported with its status, not a JSON parse error', async () => {
  globalThis.fetch = (async () =>
    new Response('<html><body>502 Bad Gateway</body></html>', { status: 502, headers: { 'content-type': 'text/html' } })) as typeof fetch;
  const code = await main([FILE]);
  expect(code).toBe(1);
  expect(err).toMatch(/^transcribe: 502/);
  expect(err).not.toMatch(/JSON|Unexpected token|undefined/);
});

test('an API that cannot be reached: a sentence naming the address, not undici\'s "fetch failed"', () => {
  const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
  expect(failureSentence(err, 'http://127.0.0.1:9')).toBe(
    'cannot reach the API at http://127.0.0.1:9 (connect ECONNREFUSED 127.0.0.1:9): is the stack running (npm start), or FAIRSCRIBE_API_URL wrong?',
  );
  expect(failureSentence(new Error('no API to talk to: run `npm start`'), null)).toBe('no API to talk to: run `npm start`');
});

test('polls stay within half the key\'s requests per minute (RateLimit-Limit 60 → one poll per 2 s), so a free key is never rate limited by its own CLI', async () => {
  const gets: number[] = [];
  globalThis.fetch = (async (_url: string, init?: RequestInit) => {
    const h = { 'RateLimit-Limit': '60' };
    if (init?.method === 'POST') return json(202, { id: JOB, status: 'queued' }, h);
    gets.push(Date.now());
    if (gets.length < 3) return json(200, { id: JOB, status: 'running', progress: { chunksDone: 0, chunksTotal: 1 } }, h);
    return json(200, { id: JOB, status: 'completed', text: 'ok', segments: [], progress: { chunksDone: 1, chunksTotal: 1 } }, h);
  }) as typeof fetch;
  expect(await main([FILE])).toBe(0);
  expect(gets).toHaveLength(3);
  for (let i = 1; i < gets.length; i++) expect(gets[i] - gets[i - 1]).toBeGreaterThanOrEqual(1950);
}, 15_000);

test('a web server that is not the API (an HTML 404 page): its status and that it is not the API at that address', async () => {
  globalThis.fetch = (async () => new Response('<html><body>Not Found</body></html>', { status: 404, statusText: 'Not Found' })) as typeof fetch;
  const code = await main([FILE]);
  expect(code).toBe(1);
  expect(err).toBe(
    "transcribe: 404 Not Found: the server at http://127.0.0.1:9 did not answer as the fairscribe API (no job, no error of ours): is FAIRSCRIBE_API_URL the API's address?\n",
  );
});

describe('FAIRSCRIBE_API_URL pointing at a server that is not the API: a sentence saying so, no errno', () => {
  const net = require('node:net') as typeof import('node:net');
  const NOT_THE_API = /^the server at http:\/\/127\.0\.0\.1:\d+ did not answer as the fairscribe API \(.*\): is FAIRSCRIBE_API_URL the API's address/;
  const JARGON = /EPIPE|ECONNRESET|HPE_|UND_ERR|other side closed/;

  /** A TCP server that does `onConnection` to each connection; the fetch error of an upload to it. */
  async function uploadTo(onConnection: (s: import('node:net').Socket) => void): Promise<{ err: unknown; url: string }> {
    const server = net.createServer(onConnection);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    try {
      // an upload as the CLI sends one: large enough that the server's close meets it mid-body
      await realFetch(`${url}/v1/jobs`, { method: 'POST', body: new Uint8Array(8 << 20) });
      return { err: null, url };
    } catch (err) {
      return { err, url };
    } finally {
      server.close();
    }
  }

  test('a server that closes the connection during the upload (write EPIPE / ECONNRESET)', async () => {
    const { err, url } = await uploadTo((s) => s.destroy());
    expect(err).not.toBeNull();
    const sentence = failureSentence(err, url);
    expect(sentence).toMatch(NOT_THE_API);
    expect(sentence).not.toMatch(JARGON);
  });

  test('a server that answers something other than HTTP (an SSH banner)', async () => {
    const { err, url } = await uploadTo((s) => {
      s.on('error', () => undefined);
      s.end('SSH-2.0-OpenSSH_9.6\r\n');
    });
    const sentence = failureSentence(err, url);
    expect(sentence).toMatch(NOT_THE_API);
    expect(sentence).not.toMatch(JARGON);
  });
});
