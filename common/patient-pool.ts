/**
 * A Postgres pool for activities that rides out a database that is briefly unreachable (a restart, a
 * failover): a query or connect that fails for a connection reason is tried again with backoff for up
 * to `maxWaitMs`, heartbeating meanwhile, instead of failing the attempt at once. Without this, five
 * attempts of an activity burn in ~15 s of Temporal backoff and a 20 s outage fails the job.
 *
 * Safe because every activity statement is idempotent (ON CONFLICT, absolute updates, unique ledger
 * rows), which Temporal's own retries already require. Only `pool.query` and `pool.connect` wait;
 * a transaction whose connection drops midway fails its attempt and Temporal retries it. The API
 * keeps the plain pool: a request should fail fast (503), not hang.
 */
import type { Pool } from 'pg';
import { Context } from '@temporalio/activity';
import { createLogger } from './log';

/** Errors that mean "the database is not reachable right now", not "this statement is wrong". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08006', // connection_failure
]);
const CONNECTION_MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

/** True for an error that a later retry of the same statement could get past. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string; errors?: unknown[] } | null;
  if (!e) return false;
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  if (Array.isArray(e.errors) && e.errors.some(isConnectionError)) return true; // AggregateError (IPv4 + IPv6)
  return typeof e.message === 'string' && CONNECTION_MESSAGES.test(e.message);
}

export interface PatientOptions {
  /** give up (rethrow) after this long; default 60 s, under the orchestration activities' 2-minute start-to-close */
  maxWaitMs?: number;
  /** first and largest pause between tries (ms); defaults 250 and 5000 */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

const log = createLogger({ component: 'db' });

/** Heartbeats when called inside an activity (so a long wait is not taken for a dead worker). */
function heartbeat(): AbortSignal | null {
  try {
    const ctx = Context.current();
    ctx.heartbeat();
    return ctx.cancellationSignal;
  } catch {
    return null; // not in an activity
  }
}

async function patiently<T>(op: () => Promise<T>, opts: Required<PatientOptions>): Promise<T> {
  const deadline = Date.now() + opts.maxWaitMs;
  let delay = opts.initialDelayMs;
  let waiting = false;
  for (;;) {
    try {
      const result = await op();
      if (waiting) log.info('database reachable again');
      return result;
    } catch (err) {
      const signal = heartbeat();
      if (!isConnectionError(err) || Date.now() + delay > deadline || signal?.aborted) throw err;
      if (!waiting) log.warn('database unreachable; waiting', { error: (err as Error).message, maxWaitMs: opts.maxWaitMs });
      waiting = true;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, opts.maxDelayMs);
    }
  }
}

/** Wraps `pool` so that `query` and `connect` wait for an unreachable database (see the file comment). */
export function patientPool(pool: Pool, options: PatientOptions = {}): Pool {
  const opts: Required<PatientOptions> = { maxWaitMs: 60_000, initialDelayMs: 250, maxDelayMs: 5_000, ...options };
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return (...args: unknown[]) => {
          // The callback form is not used by our code; pass it through unchanged.
          if (typeof args[args.length - 1] === 'function') return (target.query as (...a: unknown[]) => unknown)(...args);
          return patiently(() => (target.query as (...a: unknown[]) => Promise<unknown>).apply(target, args), opts);
        };
      }
      if (prop === 'connect') {
        return (...args: unknown[]) => {
          if (args.length > 0) return (target.connect as (...a: unknown[]) => unknown).apply(target, args);
          return patiently(() => target.connect(), opts);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
