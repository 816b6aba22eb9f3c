/**
 * The admin CLI (README "Daily use"), run in-process through its `main()` against a fresh database and
 * a Redis of its own (`quota rebuild` rewrites every quota key of the Redis it is given): each command's
 * `--json` object, and bad input → exit code 2 with a clear message and nothing changed.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { main } from '../../api/cli/admin';
import { createRedis, redisReady } from '../../common/redis';
import { resolveApiKey } from '../../common/keys';
import { freePort, startRedis, type RedisHandle } from '../../infra/services';
import { utcDay } from '../../quota/keys';
import { QuotaService } from '../../quota/quota-service';
import { freshDatabase } from '../helpers/harness';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KEY_RE = /^fsk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/;

let tmp: string;
let redis: RedisHandle;
let pool: Pool;
let quota: QuotaService;
let redisClient: ReturnType<typeof createRedis>;
const savedEnv = { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-admin-'));
  redis = await startRedis({ port: await freePort(), dir: path.join(tmp, 'redis') });
  const databaseUrl = await freshDatabase();
  // admin.ts reads its configuration from process.env, as `npm run -s admin` would.
  process.env.DATABASE_URL = databaseUrl;
  process.env.REDIS_URL = redis.url;
  pool = new Pool({ connectionString: databaseUrl });
  redisClient = createRedis(redis.url);
  await redisReady(redisClient);
  quota = new QuotaService(pool, redisClient);
}, 60_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  redisClient?.disconnect();
  await pool?.end();
  await redis?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 30_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run -s admin -- ...argv`, in-process: exit code (1 when main throws, as the entry point does) and output. */
async function admin(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const origOut = process.stdout.write;
  const origErr = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    err.push(`admin: ${(e as Error).message}\n`);
    code = 1;
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** A successful `--json` run: exit 0, exactly one JSON object on one line of stdout. */
async function adminJson(...argv: string[]): Promise<Record<string, any>> {
  const r = await admin(...argv, '--json');
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout.endsWith('\n')).toBe(true);
  expect(r.stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(r.stdout);
}

async function tierOf(userId: string): Promise<string> {
  const { rows } = await pool.query('SELECT tier FROM users WHERE id = $1', [userId]);
  return rows[0].tier;
}

describe('commands', () => {
  let userId: string;
  let firstKey: string;

  test('user create --tier free → {userId, apiKey}; the key works and only its hash is stored', async () => {
    const out = await adminJson('user', 'create', '--tier', 'free', '--name', 'Ada');
    expect(Object.keys(out).sort()).toEqual(['apiKey', 'userId']);
    expect(out.userId).toMatch(UUID_RE);
    expect(out.apiKey).toMatch(KEY_RE);
    ({ userId, apiKey: firstKey } = out as { userId: string; apiKey: string });
    expect(await resolveApiKey(pool, firstKey)).toMatchObject({ userId, tier: 'free' });
    const { rows } = await pool.query('SELECT key_hash FROM api_keys WHERE user_id = $1', [userId]);
    expect(rows).toHaveLength(1);
    expect(rows[0].key_hash.length).toBe(32);
    // the secret follows 'fsk_<12-char id>_' and may itself contain '_'
    expect(rows[0].key_hash.toString('latin1')).not.toContain(firstKey.slice('fsk_'.length + 13, 'fsk_'.length + 29));
  });

  test('key create --user U → {keyId, apiKey}: a second working key', async () => {
    const out = await adminJson('key', 'create', '--user', userId);
    expect(Object.keys(out).sort()).toEqual(['apiKey', 'keyId']);
    expect(out.apiKey).toMatch(KEY_RE);
    expect(out.apiKey.split('_')[1]).toBe(out.keyId);
    expect(await resolveApiKey(pool, out.apiKey)).toMatchObject({ userId, keyId: out.keyId });
  });

  test('key revoke --key K (id or whole key) → {keyId, revoked}; the key stops working, others do not', async () => {
    const k1 = await adminJson('key', 'create', '--user', userId);
    const k2 = await adminJson('key', 'create', '--user', userId);
    expect(await adminJson('key', 'revoke', '--key', k1.keyId)).toEqual({ keyId: k1.keyId, revoked: true });
    expect(await adminJson('key', 'revoke', '--key', k2.apiKey)).toEqual({ keyId: k2.keyId, revoked: true });
    expect(await adminJson('key', 'revoke', '--key', k1.keyId)).toEqual({ keyId: k1.keyId, revoked: true }); // again: no change
    expect(await resolveApiKey(pool, k1.apiKey)).toBeNull();
    expect(await resolveApiKey(pool, k2.apiKey)).toBeNull();
    expect(await resolveApiKey(pool, firstKey)).not.toBeNull();
  });

  test('tier set --user U --tier premium → {userId, tier}; the key now resolves to premium', async () => {
    expect(await adminJson('tier', 'set', '--user', userId, '--tier', 'premium')).toEqual({ userId, tier: 'premium' });
    expect(await resolveApiKey(pool, firstKey)).toMatchObject({ userId, tier: 'premium' });
  });

  test('usage --user U → {userId, day, reservedSeconds, billedSeconds, activeJobs} from the ledger', async () => {
    const day = utcDay();
    expect(await adminJson('usage', '--user', userId)).toEqual({ userId, day, reservedSeconds: 0, billedSeconds: 0, activeJobs: 0 });
    // Two jobs through the ledger: one charged 12 of its 30 s, one still running with 20 s.
    const [done, running] = [crypto.randomUUID(), crypto.randomUUID()];
    await quota.ledger.recordReservation(pool, { userId, jobId: done, seconds: 30, day });
    await quota.ledger.recordReservation(pool, { userId, jobId: running, seconds: 20, day });
    expect(await quota.ledger.recordSettlement(done, 12)).toEqual({ charged: 12, refunded: 18 });
    const expected = { userId, day, reservedSeconds: 32, billedSeconds: 12, activeJobs: 1 };
    expect(await adminJson('usage', '--user', userId)).toEqual(expected);
    expect(await adminJson('usage', '--user', userId, '--day', day)).toEqual(expected);
    const other = await adminJson('usage', '--user', userId, '--day', '2020-01-01');
    expect(other).toMatchObject({ userId, day: '2020-01-01', reservedSeconds: 0, billedSeconds: 0 });
    // Without --json: one readable line per field.
    const plain = await admin('usage', '--user', userId);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('reservedSeconds: 32');
  });

  test('quota rebuild → {users, reservations}; Redis then holds what the ledger says', async () => {
    await redisClient.flushall();
    expect(await adminJson('quota', 'rebuild')).toEqual({ users: 1, reservations: 1 });
    const day = utcDay();
    expect(await quota.counters(userId, day)).toEqual({ usedSeconds: 32, activeJobs: 1 });
    expect(await quota.store.isBuilt()).toBe(true);
  });
});

describe('bad input → exit code 2, a clear message on stderr, nothing changed', () => {
  let userId: string;

  beforeAll(async () => {
    ({ userId } = await adminJson('user', 'create', '--tier', 'standard'));
  });

  test.each<[string, () => string[], RegExp]>([
    ['an unknown tier in tier set', () => ['tier', 'set', '--user', userId, '--tier', 'gold'], /--tier must be one of free, standard, premium \(got 'gold'\)/],
    ['no tier in user create', () => ['user', 'create'], /--tier must be one of/],
    ['a user that is not a uuid', () => ['key', 'create', '--user', 'bob'], /--user must be a user id/],
    ['a malformed --day', () => ['usage', '--user', userId, '--day', '2024-1-5'], /--day must be a date as YYYY-MM-DD \(got '2024-1-5'\)/],
    ['a --day that is no date', () => ['usage', '--user', userId, '--day', '2024-02-30'], /--day must be a date as YYYY-MM-DD \(got '2024-02-30'\)/],
    ['an option without its value', () => ['tier', 'set', '--user', userId, '--tier'], /--tier/],
    ['an unknown command', () => ['user', 'delete'], /usage: /],
    ['an unknown option', () => ['usage', '--user', userId, '--colour', 'blue'], /colour/],
  ])('%s', async (_name, argv, message) => {
    const before = await pool.query('SELECT (SELECT count(*) FROM users) AS u, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL) AS k');
    const r = await admin(...argv(), '--json');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(message);
    expect((await pool.query('SELECT (SELECT count(*) FROM users) AS u, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL) AS k')).rows).toEqual(
      before.rows,
    );
    expect(await tierOf(userId)).toBe('standard');
  });
});

describe('a well-formed id that names nothing → exit code 1 (a runtime failure, not a usage error), nothing changed', () => {
  let userId: string;

  beforeAll(async () => {
    ({ userId } = await adminJson('user', 'create', '--tier', 'standard'));
  });

  test.each<[string, () => string[], RegExp]>([
    ['an unknown user in tier set', () => ['tier', 'set', '--user', '00000000-0000-4000-8000-000000000000', '--tier', 'free'], /no user 00000000-/],
    ['an unknown user in usage', () => ['usage', '--user', crypto.randomUUID()], /no user /],
    ['an unknown user in key create', () => ['key', 'create', '--user', crypto.randomUUID()], /no user /],
    ['an unknown key in key revoke', () => ['key', 'revoke', '--key', 'AAAAAAAAAAAA'], /no key AAAAAAAAAAAA/],
  ])('%s', async (_name, argv, message) => {
    const before = await pool.query('SELECT (SELECT count(*) FROM users) AS u, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL) AS k');
    const r = await admin(...argv(), '--json');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(message);
    // a not-found is not a usage error: no usage text
    expect(r.stderr).not.toMatch(/^usage:/m);
    expect((await pool.query('SELECT (SELECT count(*) FROM users) AS u, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL) AS k')).rows).toEqual(
      before.rows,
    );
    expect(await tierOf(userId)).toBe('standard');
  });
});
