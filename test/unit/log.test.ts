/**
 * common/log.ts on pino and api/request-log.ts on pino-http: the lines as written to stderr (captured
 * by replacing process.stderr.write, as test/integration/tenant-isolation.test.ts does), parsed back.
 * Redaction reaches nested fields (objects and arrays, any spelling listed); errors keep their stack,
 * own properties and cause chain; context, base and line fields stack in that order; the level is one
 * switch for every logger.
 */
import * as http from 'node:http';
import express from 'express';
import {
  createLogger,
  logEnabled,
  setLogLevel,
  withLogContext,
  writeLogLine,
} from '../../common/log';
import { logJob, requestLog } from '../../api/request-log';
import { temporalLogger } from '../../workers/logging';
import { errorChain } from '../../workflows/log-interceptors';
import { listenOnLoopback } from '../helpers/listen';
import { mulberry32 } from '../helpers/prng';

type Line = Record<string, any>;

/** Runs `fn`, returning the JSON lines it wrote to stderr. */
async function capture(fn: () => unknown | Promise<unknown>): Promise<Line[]> {
  const chunks: string[] = [];
  const original = process.stderr.write;
  process.stderr.write = ((chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = original;
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

afterEach(() => setLogLevel('info'));

describe('line shape', () => {
  test('one JSON object per line: level by name, ISO time, msg, the fields; no pid or hostname', async () => {
    const [line, ...rest] = await capture(() => createLogger({ component: 'test' }).info('hello', { jobId: 'j1', n: 3 }));
    expect(rest).toEqual([]);
    expect(line).toEqual({ level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), component: 'test', jobId: 'j1', n: 3, msg: 'hello' });
  });

  test('a bigint field is written, not thrown on', async () => {
    const [line] = await capture(() => createLogger().info('big', { nanos: 12345678901234567890n }));
    expect(line.msg).toBe('big');
    expect(String(line.nanos)).toMatch(/^1234567890123456/);
  });

  test('a circular field is written, not thrown on', async () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    const [line] = await capture(() => createLogger().info('loop', { loop }));
    expect(line.loop.a).toBe(1);
  });
});

describe('redaction', () => {
  const SECRET = 'fsk_abcdefghijkl_s3cr3t-value';
  const TRANSCRIPT = 'and so my fellow Americans';

  test('top-level and nested secret and content fields, in objects and arrays, every listed spelling', async () => {
    const fields = {
      jobId: 'j1',
      apiKey: SECRET,
      text: TRANSCRIPT,
      req: { headers: { authorization: `Bearer ${SECRET}`, Authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET, 'content-type': 'audio/flac' } },
      job: { id: 'j1', text: TRANSCRIPT, segments: [{ start: 0, end: 1, text: TRANSCRIPT }], status: 'completed' },
      results: [{ chunk: 0, transcript: TRANSCRIPT, words: [{ word: 'and' }] }],
      deep: { a: { b: { c: { token: SECRET, keep: 'visible' } } } },
      upload: { file: { audio: 'RIFF....', samples: [0.1, 0.2], bytes: 44_000 } },
      user: { PASSWORD: SECRET, Secret: SECRET, api_key: SECRET, prompt: TRANSCRIPT, cookie: `sid=${SECRET}` },
    };
    const before = JSON.stringify(fields);
    const [line] = await capture(() => createLogger().warn('careful', fields));
    const raw = JSON.stringify(line);
    expect(raw).not.toContain(SECRET);
    expect(raw).not.toContain(TRANSCRIPT);
    expect(raw).not.toContain('RIFF');
    expect(line.apiKey).toBe('[redacted]');
    expect(line.text).toBe('[redacted]');
    expect(line.req.headers).toEqual({ authorization: '[redacted]', Authorization: '[redacted]', 'x-api-key': '[redacted]', 'content-type': 'audio/flac' });
    expect(line.job).toEqual({ id: 'j1', text: '[redacted]', segments: '[redacted]', status: 'completed' });
    expect(line.results).toEqual([{ chunk: 0, transcript: '[redacted]', words: '[redacted]' }]);
    expect(line.deep.a.b.c).toEqual({ token: '[redacted]', keep: 'visible' });
    expect(line.upload.file).toEqual({ audio: '[redacted]', samples: '[redacted]', bytes: 44_000 });
    expect(line.user).toEqual({ PASSWORD: '[redacted]', Secret: '[redacted]', api_key: '[redacted]', prompt: '[redacted]', cookie: '[redacted]' });
    // The caller's object is left as it was.
    expect(JSON.stringify(fields)).toBe(before);
  });

  test('any depth: 12 levels down is redacted like the top', async () => {
    let nested: Record<string, unknown> = { text: TRANSCRIPT, words: [{ word: 'fellow' }], keep: 1 };
    for (let i = 0; i < 12; i++) nested = { [`l${i}`]: nested };
    const [line] = await capture(() => createLogger().info('deep', { top: nested }));
    expect(JSON.stringify(line)).not.toContain(TRANSCRIPT);
    let at = line.top;
    for (let i = 11; i >= 0; i--) at = at[`l${i}`];
    expect(at).toEqual({ text: '[redacted]', words: '[redacted]', keep: 1 });
  });

  test('binary data (audio) is written as its size, never its bytes', async () => {
    const pcm = new Float32Array([0.25, -0.5, 0.125]);
    const [line] = await capture(() => createLogger().info('bin', { chunk: { pcm, raw: Buffer.from('RIFFWAVE') }, ab: new ArrayBuffer(7) }));
    expect(line.chunk).toEqual({ pcm: '[binary 12 bytes]', raw: '[binary 8 bytes]' });
    expect(line.ab).toBe('[binary 7 bytes]');
  });

  test('random trees: nothing under a redacted name is written, and the caller\'s object is never changed', async () => {
    const rand = mulberry32(15);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const plain = ['id', 'chunk', 'meta', 'items', 'status', 'a', 'b'];
    const secret = ['text', 'Authorization', 'apiKey', 'segments', 'TOKEN', 'audio', 'x-api-key', 'words', 'cookie'];
    let leaks = 0;
    // Any value below a redacted name is a leak if written; plain leaves are fine.
    const tree = (depth: number, underSecret: boolean): unknown => {
      if (depth === 0 || rand() < 0.25) return underSecret ? `LEAK${leaks++}` : 'ok';
      const node = rand() < 0.3 ? ([] as unknown[]) : ({} as Record<string, unknown>);
      const n = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < n; i++) {
        const isSecret = !Array.isArray(node) && rand() < 0.35; // array items have no name to redact by
        const child = tree(depth - 1, underSecret || isSecret);
        if (Array.isArray(node)) node.push(child);
        else node[isSecret ? pick(secret) : pick(plain)] = child;
      }
      return node;
    };
    for (let round = 0; round < 200; round++) {
      const fields = { jobId: 'j', x: tree(6, false), [pick(secret)]: tree(2, true) } as Record<string, unknown>;
      const before = structuredClone(fields);
      const lines = await capture(() => createLogger().info('tree', fields));
      expect(JSON.stringify(lines)).not.toContain('LEAK');
      expect(fields).toEqual(before);
    }
    expect(leaks).toBeGreaterThan(100);
  });

  test('log context and base fields are redacted too', async () => {
    const lines = await capture(() =>
      withLogContext({ jobId: 'j1', token: SECRET }, () => createLogger({ component: 'x', auth: { authorization: SECRET } }).info('ctx')),
    );
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    expect(lines[0]).toMatchObject({ jobId: 'j1', token: '[redacted]', auth: { authorization: '[redacted]' } });
  });

  test('writeLogLine (the Temporal SDK path) redacts the same', async () => {
    const [line] = await capture(() => writeLogLine('info', 'sdk', { meta: { headers: { authorization: SECRET } }, text: TRANSCRIPT }));
    expect(JSON.stringify(line)).not.toContain(SECRET);
    expect(line.text).toBe('[redacted]');
  });
});

describe('errors', () => {
  test('an Error under any field keeps its type, message, stack, own properties and cause chain', async () => {
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const mid = new Error('ledger write failed', { cause: root });
    class QuotaError extends Error {}
    const top = new QuotaError('admission failed', { cause: mid });
    const [a, b] = await capture(() => {
      createLogger().error('with err', { err: top });
      createLogger().error('other key', { failure: top, error: mid });
    });
    for (const e of [a.err, b.failure]) {
      expect(e).toMatchObject({ type: 'QuotaError', message: 'admission failed' });
      expect(e.stack).toContain('admission failed');
      expect(e.stack).toMatch(/at .*log\.test\.ts/);
      expect(e.cause).toMatchObject({ type: 'Error', message: 'ledger write failed' });
      expect(e.cause.cause).toMatchObject({ type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' });
      expect(e.cause.cause.stack).toContain('ECONNREFUSED');
    }
    expect(b.error).toMatchObject({ type: 'Error', message: 'ledger write failed', cause: { code: 'ECONNREFUSED' } });
  });

  test('an Error nested in another field, or carrying secrets in its own properties, is serialised and scrubbed', async () => {
    const failure = Object.assign(new Error('upstream said 401'), {
      config: { url: 'https://example.test/v1', headers: { Authorization: 'Bearer fsk_leak_me' } },
      response: { status: 401, text: 'the transcript the upstream echoed' },
    });
    const [line] = await capture(() => createLogger().warn('nested', { result: { attempt: 2, failure } }));
    expect(line.result.failure).toMatchObject({ type: 'Error', message: 'upstream said 401', config: { url: 'https://example.test/v1', headers: { Authorization: '[redacted]' } } });
    expect(line.result.failure.stack).toContain('upstream said 401');
    expect(line.result.failure.response).toEqual({ status: 401, text: '[redacted]' });
    expect(JSON.stringify(line)).not.toContain('fsk_leak_me');
  });

  test('a non-Error under err is written as it is', async () => {
    const [line] = await capture(() => createLogger().warn('odd', { err: 'plain string', error: { code: 42 } }));
    expect(line).toMatchObject({ err: 'plain string', error: { code: 42 } });
  });

  test('workflows send errors as a plain {type, message, failureType, cause} chain', () => {
    const activity = Object.assign(new Error('not audio'), { name: 'ApplicationFailure', type: 'unsupported_audio' });
    const wf = new Error('Activity task failed', { cause: activity });
    wf.name = 'ActivityFailure';
    expect(errorChain(wf)).toEqual({
      type: 'ActivityFailure',
      message: 'Activity task failed',
      cause: { type: 'ApplicationFailure', message: 'not audio', failureType: 'unsupported_audio' },
    });
    expect(errorChain('boom')).toEqual({ type: 'string', message: 'boom' });
    let deep: Error = new Error('0');
    for (let i = 1; i < 10; i++) deep = new Error(String(i), { cause: deep });
    let depth = 0;
    for (let c: any = errorChain(deep); c; c = c.cause) depth++;
    expect(depth).toBe(5);
  });
});

describe('context and levels', () => {
  test('precedence: context < base < line fields; nested contexts add up; ids survive awaits', async () => {
    const log = createLogger({ component: 'api', userId: 'from-base' });
    const lines = await capture(() =>
      withLogContext({ jobId: 'ctx-job', userId: 'ctx-user', extra: 1 }, async () => {
        await new Promise((r) => setTimeout(r, 5));
        log.info('a');
        log.info('b', { jobId: 'line-job' });
        withLogContext({ chunk: 2 }, () => log.child({ component: 'child' }).info('c'));
      }),
    );
    expect(lines.map((l) => [l.msg, l.jobId, l.userId, l.component, l.extra, l.chunk])).toEqual([
      ['a', 'ctx-job', 'from-base', 'api', 1, undefined],
      ['b', 'line-job', 'from-base', 'api', 1, undefined],
      ['c', 'ctx-job', 'from-base', 'child', 1, 2],
    ]);
  });

  test('setLogLevel switches every logger, made before or after', async () => {
    const early = createLogger({ component: 'early' });
    setLogLevel('warn');
    const late = createLogger({ component: 'late' });
    expect([logEnabled('info'), logEnabled('warn')]).toEqual([false, true]);
    let lines = await capture(() => {
      early.info('x');
      late.info('x');
      early.warn('y');
      late.error('z');
    });
    expect(lines.map((l) => `${l.component}:${l.level}`)).toEqual(['early:warn', 'late:error']);
    setLogLevel('debug');
    lines = await capture(() => early.debug('d'));
    expect(lines.map((l) => l.level)).toEqual(['debug']);
  });

  test('writeLogLine writes whatever the level, with the time it is given', async () => {
    setLogLevel('error');
    const t = new Date('2026-01-02T03:04:05.678Z');
    const lines = await capture(() => writeLogLine('debug', 'sdk line', { component: 'temporal' }, t));
    expect(lines).toEqual([{ level: 'debug', time: '2026-01-02T03:04:05.678Z', component: 'temporal', msg: 'sdk line' }]);
    // The next line has its own time again.
    const [next] = await capture(() => createLogger().error('now'));
    expect(next.time).not.toBe('2026-01-02T03:04:05.678Z');
  });
});

describe('the Temporal SDK logger (workers/logging.ts)', () => {
  test('an activity-only worker\'s "no workflows" warning is INFO (hidden at the default WARN threshold); other SDK warnings stay WARN', async () => {
    const sdk = temporalLogger();
    const lines = await capture(() => {
      sdk.warn('No workflows registered, not polling for workflow tasks');
      sdk.warn('Activity heartbeat timed out');
      sdk.info('Worker state changed');
    });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([['warn', 'Activity heartbeat timed out']]);
  });
});

describe('request line (pino-http)', () => {
  const JOB = '0b6f7a1e-2a4c-4a53-9d7a-1f3f2a6b9c10';
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    const app = express();
    app.use(requestLog(createLogger({ component: 'api' })));
    app.use((req, _res, next) => {
      if (req.headers.authorization === 'Bearer good') (req as any).principal = { userId: 'user-1' };
      next();
    });
    app.post('/v1/jobs', (_req, res) => {
      logJob(JOB, 'user-1');
      createLogger({ component: 'admission' }).info('job admitted');
      res.status(202).json({ id: JOB });
    });
    app.get('/v1/jobs/:id', (req, res) => {
      if (!(req as any).principal) return void res.status(401).json({ error: { code: 'unauthorized' } });
      res.json({ id: req.params.id, text: 'secret transcript' });
    });
    app.get('/slow', (_req, res) => {
      setTimeout(() => {
        if (!res.destroyed) res.json({ ok: true });
      }, 300);
    });
    app.get('/boom', () => {
      throw new Error('handler exploded');
    });
    ({ server, base } = await listenOnLoopback(app));
  });

  afterAll(() => new Promise((r) => server.close(r)));

  /** Makes the request and waits until its request line is written. */
  async function requestLines(pathAndQuery: string, init: RequestInit = {}): Promise<Line[]> {
    return capture(async () => {
      const res = await fetch(base + pathAndQuery, init);
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 20));
    });
  }

  test('admission: the request line and the lines inside it carry the new job id and the caller', async () => {
    const lines = await requestLines('/v1/jobs?token=s3cr3t', { method: 'POST', headers: { authorization: 'Bearer good' } });
    const admitted = lines.find((l) => l.msg === 'job admitted');
    const request = lines.find((l) => l.msg === 'request');
    expect(admitted).toMatchObject({ component: 'admission', jobId: JOB, userId: 'user-1' });
    expect(request).toMatchObject({ level: 'info', component: 'api', method: 'POST', path: '/v1/jobs', status: 202, userId: 'user-1', jobId: JOB });
    expect(typeof request!.ms).toBe('number');
    expect(request!.aborted).toBeUndefined();
    const raw = JSON.stringify(lines);
    expect(raw).not.toContain('s3cr3t');
    expect(raw).not.toContain('Bearer good');
  });

  test('a job path names the job; a refused caller has no user; no headers, query or body are logged', async () => {
    const lines = await requestLines(`/v1/jobs/${JOB}?token=abc`, { headers: { authorization: 'Bearer wrong' } });
    expect(lines.filter((l) => l.msg === 'request')).toEqual([
      expect.objectContaining({ method: 'GET', path: `/v1/jobs/${JOB}`, status: 401, jobId: JOB, userId: null }),
    ]);
    const ok = await requestLines(`/v1/jobs/${JOB}`, { headers: { authorization: 'Bearer good' } });
    expect(JSON.stringify(ok)).not.toContain('secret transcript');
    expect(JSON.stringify(ok)).not.toContain('Bearer');
    expect(ok.find((l) => l.msg === 'request')).toMatchObject({ status: 200, userId: 'user-1' });
  });

  test('a 500 is one request line like the others', async () => {
    const lines = await requestLines('/boom');
    const request = lines.filter((l) => l.msg === 'request');
    expect(request).toEqual([expect.objectContaining({ level: 'info', path: '/boom', status: 500, jobId: null })]);
  });

  test('a client that goes away before the answer still gets its line, marked aborted', async () => {
    const lines = await capture(async () => {
      const ac = new AbortController();
      const pending = fetch(`${base}/slow?token=zzz`, { signal: ac.signal }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 80));
      ac.abort();
      await pending;
      await new Promise((r) => setTimeout(r, 400));
    });
    expect(lines.filter((l) => l.msg === 'request')).toEqual([expect.objectContaining({ method: 'GET', path: '/slow', aborted: true })]);
  });

  test('request lines follow the shared level', async () => {
    setLogLevel('warn');
    const lines = await requestLines('/v1/jobs', { method: 'POST', headers: { authorization: 'Bearer good' } });
    expect(lines.filter((l) => l.msg === 'request')).toEqual([]);
  });
});
