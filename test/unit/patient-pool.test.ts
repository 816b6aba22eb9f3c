import type { Pool } from 'pg';
import { isConnectionError, patientPool } from '../../common/patient-pool';

/** A stand-in pool whose query fails with the given errors in turn, then answers. */
function flakyPool(errors: unknown[]): { pool: Pool; calls: () => number } {
  let calls = 0;
  const pool = {
    query: async () => {
      const err = errors[calls++];
      if (err) throw err;
      return { rows: [{ ok: true }], rowCount: 1 };
    },
    connect: async () => ({ release: () => undefined }),
    totalCount: 7,
  } as unknown as Pool;
  return { pool, calls: () => calls };
}

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const shuttingDown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
const syntax = Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' });

test('connection errors are recognised, statement errors are not', () => {
  expect(isConnectionError(refused)).toBe(true);
  expect(isConnectionError(shuttingDown)).toBe(true);
  expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
  expect(isConnectionError(new AggregateError([refused], 'connect failed'))).toBe(true);
  expect(isConnectionError(syntax)).toBe(false);
  expect(isConnectionError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
});

test('a query waits through connection errors and then answers', async () => {
  const { pool, calls } = flakyPool([refused, shuttingDown, refused]);
  const patient = patientPool(pool, { initialDelayMs: 1, maxDelayMs: 2 });
  await expect(patient.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
  expect(calls()).toBe(4);
  expect(patient.totalCount).toBe(7); // everything else is the pool's own
});

test('a statement error fails at once; a database down for longer than maxWaitMs fails after it', async () => {
  const bad = flakyPool([syntax]);
  await expect(patientPool(bad.pool, { initialDelayMs: 1 }).query('SELEC 1')).rejects.toBe(syntax);
  expect(bad.calls()).toBe(1);

  const down = flakyPool(Array(1000).fill(refused));
  const t0 = Date.now();
  await expect(patientPool(down.pool, { maxWaitMs: 60, initialDelayMs: 5, maxDelayMs: 10 }).query('SELECT 1')).rejects.toBe(refused);
  expect(Date.now() - t0).toBeLessThan(1_000);
  expect(down.calls()).toBeGreaterThan(2);
});
