/**
 * api/queue-stats.ts: the inference queues' stats from DescribeTaskQueue, and what admission hears when Temporal does
 * not answer (a paused or wedged server held POST /v1/jobs open for minutes before the deadline).
 */
import { TaskQueueStats, TemporalNotAnswering } from '../../api/queue-stats';

type Describe = (req: { taskQueue: { name: string } }) => Promise<unknown>;
const clientWith = (describeTaskQueue: Describe) => ({ workflowService: { describeTaskQueue } }) as unknown as ConstructorParameters<typeof TaskQueueStats>[0];

test('a server that answers: pollers seen recently and the backlog, per backend', async () => {
  const now = Date.now();
  const stats = new TaskQueueStats(
    clientWith(async () => ({
      pollers: [{ lastAccessTime: { seconds: Math.floor(now / 1000) } }, { lastAccessTime: { seconds: Math.floor(now / 1000) - 600 } }],
      stats: { approximateBacklogCount: 7 },
    })),
    'default',
  );
  const all = await stats.get();
  expect(Object.values(all).length).toBeGreaterThan(0);
  for (const s of Object.values(all)) expect(s).toEqual({ pollers: 1, backlog: 7 });
});

test('a queue that cannot be described counts as empty (an error is an answer)', async () => {
  const stats = new TaskQueueStats(clientWith(async () => Promise.reject(new Error('NOT_FOUND'))), 'default');
  for (const s of Object.values(await stats.get())) expect(s).toEqual({ pollers: 0, backlog: 0 });
});

test('a server that does not answer: TemporalNotAnswering at the deadline, and nothing cached', async () => {
  let calls = 0;
  const stats = new TaskQueueStats(
    clientWith(() => {
      calls++;
      return new Promise(() => undefined); // never answers, as a SIGSTOPped server
    }),
    'default',
    50,
  );
  const t0 = Date.now();
  await expect(stats.get()).rejects.toBeInstanceOf(TemporalNotAnswering);
  expect(Date.now() - t0).toBeLessThan(2_000);
  const first = calls;
  await expect(stats.get()).rejects.toBeInstanceOf(TemporalNotAnswering);
  expect(calls).toBe(2 * first); // asked again: a failure is not served from the cache
});
