import { BatchItemAbortedError, DynamicBatcher, type BatchClock } from '../../engine/batcher';

/** A fake clock whose timers fire only when the test advances time. */
class FakeClock implements BatchClock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(id: unknown) {
    this.timers = this.timers.filter((x) => x.id !== id);
  }
  async advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

const flush = () => new Promise((r) => setImmediate(r));

/** A batcher whose model call records each batch and is resolved by the test. */
function setup(maxBatch: number, maxWaitMs: number) {
  const clock = new FakeClock();
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  const batcher = new DynamicBatcher<number, number>({
    maxBatch,
    maxWaitMs,
    clock,
    run: (items) => {
      batches.push(items);
      return new Promise((resolve) =>
        releases.push(() => resolve(items.map((x) => (x < 0 ? new Error(`bad item ${x}`) : x * 10)))),
      );
    },
  });
  return { clock, batches, releases, batcher };
}

test('a full batch runs at once, without waiting', async () => {
  const { batches, batcher, releases } = setup(4, 50);
  const results = [1, 2, 3, 4].map((x) => batcher.submit(x));
  await flush();
  expect(batches).toEqual([[1, 2, 3, 4]]);
  releases[0]();
  expect(await Promise.all(results)).toEqual([10, 20, 30, 40]);
});

test('a partial batch runs when the oldest item has waited maxWaitMs', async () => {
  const { clock, batches, batcher, releases } = setup(4, 50);
  const a = batcher.submit(1);
  await clock.advance(30);
  const b = batcher.submit(2);
  await clock.advance(19);
  expect(batches).toEqual([]); // 49 ms after the first: still waiting
  await clock.advance(1);
  expect(batches).toEqual([[1, 2]]); // 50 ms after the first, not after the second
  releases[0]();
  expect(await Promise.all([a, b])).toEqual([10, 20]);
});

test('never more than maxBatch per run; the rest forms the next batch', async () => {
  const { clock, batches, batcher, releases } = setup(2, 50);
  const all = [1, 2, 3, 4, 5].map((x) => batcher.submit(x));
  await flush();
  expect(batches).toEqual([[1, 2]]);
  releases[0]();
  await flush();
  expect(batches).toEqual([[1, 2], [3, 4]]); // full again: runs at once when the first ends
  releases[1]();
  await flush();
  expect(batches).toHaveLength(2); // item 5 waits for company
  await clock.advance(50);
  expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  releases[2]();
  expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
});

test('one batch at a time: items arriving during a run wait for it to end', async () => {
  const { clock, batches, batcher, releases } = setup(4, 10);
  const a = batcher.submit(1);
  await clock.advance(10);
  expect(batches).toEqual([[1]]);
  const b = batcher.submit(2);
  await clock.advance(100); // waited past maxWaitMs, but the first run is still going
  expect(batches).toEqual([[1]]);
  releases[0]();
  await flush();
  expect(batches).toEqual([[1], [2]]); // overdue: runs as soon as the first ends
  releases[1]();
  expect(await Promise.all([a, b])).toEqual([10, 20]);
});

test("one item's failure does not fail the others", async () => {
  const { batcher, releases } = setup(3, 50);
  const results = [1, -1, 3].map((x) => batcher.submit(x).then((v) => ({ v }), (e: Error) => ({ e: e.message })));
  await flush();
  releases[0]();
  expect(await Promise.all(results)).toEqual([{ v: 10 }, { e: 'bad item -1' }, { v: 30 }]);
});

test('a cancelled item leaves the batch before it runs', async () => {
  const { clock, batches, batcher, releases } = setup(3, 50);
  const ctl = new AbortController();
  const a = batcher.submit(1);
  const b = batcher.submit(2, ctl.signal);
  ctl.abort();
  await expect(b).rejects.toBeInstanceOf(BatchItemAbortedError);
  const c = batcher.submit(3);
  await clock.advance(50);
  expect(batches).toEqual([[1, 3]]);
  releases[0]();
  expect(await Promise.all([a, c])).toEqual([10, 30]);
});

test('an item cancelled while its batch runs gets no result; the others do', async () => {
  const { batcher, releases } = setup(2, 50);
  const ctl = new AbortController();
  const a = batcher.submit(1, ctl.signal);
  const b = batcher.submit(2);
  await flush();
  ctl.abort();
  releases[0]();
  await expect(a).rejects.toBeInstanceOf(BatchItemAbortedError);
  expect(await b).toBe(20);
});

test('all queued items cancelled: no run, no timer left', async () => {
  const { clock, batches, batcher } = setup(4, 50);
  const ctl = new AbortController();
  const a = batcher.submit(1, ctl.signal);
  ctl.abort();
  await expect(a).rejects.toBeInstanceOf(BatchItemAbortedError);
  await clock.advance(1000);
  expect(batches).toEqual([]);
  expect(batcher.waiting).toBe(0);
});

test('a run that throws rejects every item of its batch and the batcher goes on', async () => {
  const clock = new FakeClock();
  let calls = 0;
  const batcher = new DynamicBatcher<number, number>({
    maxBatch: 2,
    maxWaitMs: 5,
    clock,
    run: async (items) => {
      if (calls++ === 0) throw new Error('model exploded');
      return items;
    },
  });
  const first = [1, 2].map((x) => batcher.submit(x).catch((e: Error) => e.message));
  expect(await Promise.all(first)).toEqual(['model exploded', 'model exploded']);
  const again = batcher.submit(3);
  await clock.advance(5);
  expect(await again).toBe(3);
});
