/**
 * infra/services.ts against the real binaries: starts its own Postgres, Redis and Temporal dev server in a
 * temporary directory on free ports (independent of the run's shared stack from global setup), talks to each
 * with its real client, stops them and checks nothing is left listening.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client as PgClient } from 'pg';
import Redis from 'ioredis';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES, isPortFree, startAll, type Services } from '../../infra/services';
import { migrate, MIGRATIONS_DIR } from '../../common/db';

// Cold start is about 1-2 s per service here (initdb dominates); generous for a loaded 2-core CI machine.
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;

describe('infra/services startAll', () => {
  let root: string;
  let services: Services | undefined;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-services-test-'));
    services = await startAll({ root, fresh: true, fast: true });
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    // Normally already stopped by the last test; stop() is idempotent.
    await services?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }, STOP_TIMEOUT_MS);

  it('serves queries on Postgres, in the requested database', async () => {
    const client = new PgClient({ connectionString: services!.pg.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT 1 AS one, current_database() AS db');
      expect(rows[0]).toEqual({ one: 1, db: services!.pg.database });
    } finally {
      await client.end();
    }
  });

  it('migrates once when several processes start together (the losers of the advisory lock wait, not crash)', async () => {
    // An API, an orchestration worker and a CPU worker all migrate at startup; node-pg-migrate's lock is
    // pg_try_advisory_lock, and before common/db.ts retried, the loser exited ("Another migration is already running").
    await Promise.all(Array.from({ length: 4 }, () => migrate(services!.pg.url)));
    const client = new PgClient({ connectionString: services!.pg.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM pgmigrations');
      expect(rows[0].n).toBe(fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).length);
    } finally {
      await client.end();
    }
  });

  it('answers PING on Redis', async () => {
    const redis = new Redis(services!.redis.url, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('registers every search attribute on the Temporal dev server', async () => {
    const connection = await Connection.connect({ address: services!.temporal.address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));
    } finally {
      await connection.close();
    }
  });

  it('stops everything and frees the ports', async () => {
    const { pg, redis, temporal } = services!;
    await services!.stop();
    const ports = [pg.port, redis.port, temporal.port];
    const free = await Promise.all(ports.map((port) => isPortFree(port)));
    expect(Object.fromEntries(ports.map((port, i) => [port, free[i]]))).toEqual(Object.fromEntries(ports.map((port) => [port, true])));
    for (const pid of [pg.pid, redis.pid, temporal.pid]) {
      expect(() => process.kill(pid, 0)).toThrow();
    }
  }, STOP_TIMEOUT_MS);
});
