import * as path from 'node:path';
import { Pool, type PoolClient } from 'pg';
import { REPO_ROOT } from './config';

/** A pg pool; callers share one per process. */
export function createPool(databaseUrl: string, max = 10): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max });
  // An idle client's error (e.g. the server restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // A checked-out client whose connection drops (a database restart mid-transaction) emits 'error',
  // which with no listener would crash the process; its pending and next queries fail instead, which
  // is how the caller learns of it (and activities retry).
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

export const MIGRATIONS_DIR = path.join(REPO_ROOT, 'infra', 'migrations');

/** How long a process waits for another one's migration run before it gives up (startup of a whole stack). */
const MIGRATION_LOCK_WAIT_MS = 120_000;

/**
 * Applies pending migrations (node-pg-migrate, SQL files in infra/migrations). Idempotent; safe to run
 * from several processes at once: node-pg-migrate takes an advisory lock with pg_try_advisory_lock and
 * throws "Another migration is already running" when it is held, so a process that loses the race waits
 * and tries again (then finds nothing pending) instead of exiting: an API, an orchestration worker and a
 * CPU worker starting together on a busy machine crashed the loser, and its jobs stayed `queued`.
 */
export async function migrate(databaseUrl: string): Promise<void> {
  const { runner } = await import('node-pg-migrate');
  const deadline = Date.now() + MIGRATION_LOCK_WAIT_MS;
  for (let wait = 100; ; wait = Math.min(2 * wait, 2_000)) {
    try {
      await runner({
        databaseUrl,
        dir: MIGRATIONS_DIR,
        direction: 'up',
        migrationsTable: 'pgmigrations',
        count: Infinity,
        log: () => undefined,
      });
      return;
    } catch (err) {
      if (!/another migration is already running/i.test((err as Error).message) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * Runs `fn` inside one Postgres transaction on a client of `pool`: BEGIN, then COMMIT when `fn`
 * resolves, ROLLBACK (its own failure ignored: the connection may be the thing that broke) when it
 * throws, rethrowing `fn`'s error. The client goes back to the pool either way.
 * @returns what `fn` returned
 */
export async function withTransaction<T>(pool: Pick<Pool, 'connect'>, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const tx = await pool.connect();
  try {
    await tx.query('BEGIN');
    const result = await fn(tx);
    await tx.query('COMMIT');
    return result;
  } catch (err) {
    await tx.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    tx.release();
  }
}
