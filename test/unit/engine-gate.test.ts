import { EngineGate, GateAbortedError, engineGates } from '../../activities/engine-gate';

/** A piece of work the test finishes by hand. */
function deferred<T = string>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

test('admits at most `limit` calls and lets the others in in arrival order', async () => {
  const gate = new EngineGate(1);
  const started: number[] = [];
  const works = [0, 1, 2].map(() => deferred());
  const runs = works.map((w, i) => gate.run(() => (started.push(i), w.promise)));
  await tick();
  expect(started).toEqual([0]);
  expect(gate.running).toBe(1);
  expect(gate.waiting).toBe(2);
  works[0].resolve('a');
  await expect(runs[0]).resolves.toBe('a');
  await tick();
  expect(started).toEqual([0, 1]);
  // a failing call lets the next one in too, and rejects with its own error
  works[1].reject(new Error('engine failed'));
  await expect(runs[1]).rejects.toThrow('engine failed');
  await tick();
  expect(started).toEqual([0, 1, 2]);
  works[2].resolve('c');
  await expect(runs[2]).resolves.toBe('c');
  expect(gate.running).toBe(0);
});

test('a later call does not overtake waiting ones when a place frees', async () => {
  const gate = new EngineGate(2);
  const order: string[] = [];
  const a = deferred();
  const b = deferred();
  const pa = gate.run(() => (order.push('a'), a.promise));
  const pb = gate.run(() => (order.push('b'), b.promise));
  const pc = gate.run(async () => (order.push('c'), 'c'));
  a.resolve('a');
  await pa;
  const pd = gate.run(async () => (order.push('d'), 'd'));
  await Promise.all([pc, pd]);
  expect(order).toEqual(['a', 'b', 'c', 'd']);
  b.resolve('b');
  await pb;
});

test('an aborted waiter leaves the queue and never runs; an aborted signal is refused at once', async () => {
  const gate = new EngineGate(1);
  const first = deferred();
  const p1 = gate.run(() => first.promise);
  const controller = new AbortController();
  let ran = false;
  const p2 = gate.run(async () => (ran = true), controller.signal);
  const p3 = gate.run(async () => 'third');
  controller.abort();
  await expect(p2).rejects.toBeInstanceOf(GateAbortedError);
  expect(gate.waiting).toBe(1);
  first.resolve('first');
  await expect(p1).resolves.toBe('first');
  await expect(p3).resolves.toBe('third');
  expect(ran).toBe(false);
  await expect(gate.run(async () => 'x', controller.signal)).rejects.toBeInstanceOf(GateAbortedError);
});

test('Infinity admits everything at once; one gate per model', async () => {
  const gate = new EngineGate(Infinity);
  const works = Array.from({ length: 16 }, () => deferred());
  const runs = works.map((w) => gate.run(() => w.promise));
  expect(gate.running).toBe(16);
  works.forEach((w) => w.resolve('ok'));
  await Promise.all(runs);
  const of = engineGates((m) => (m === 'batched' ? Infinity : 1));
  expect(of('int8').limit).toBe(1);
  expect(of('batched').limit).toBe(Infinity);
  expect(of('int8')).toBe(of('int8'));
  expect(() => new EngineGate(0)).toThrow();
});

test("one job's chunks go in index order whatever order they arrive in; the longest-waiting job goes first", async () => {
  const gate = new EngineGate(1);
  const started: string[] = [];
  const first = deferred();
  const runs: Promise<unknown>[] = [gate.run(() => (started.push('busy'), first.promise))];
  // job A's chunks arrive 2, 0, then job B's 1, then A's 1, then B's 0
  const arrivals: [string, number][] = [['A', 2], ['A', 0], ['B', 1], ['A', 1], ['B', 0]];
  const done = new Map<string, { resolve: (v: string) => void }>();
  for (const [job, index] of arrivals) {
    const d = deferred();
    done.set(`${job}${index}`, d);
    runs.push(gate.run(() => (started.push(`${job}${index}`), d.promise), undefined, { job, index }));
  }
  await tick();
  first.resolve('x');
  for (let k = 0; k < arrivals.length; k++) {
    await tick();
    const last = started[started.length - 1];
    done.get(last)!.resolve(last);
  }
  await Promise.all(runs);
  // A waited longest: its chunks in index order, then B's
  expect(started).toEqual(['busy', 'A0', 'A1', 'A2', 'B0', 'B1']);
});

test('calls without an order keep their arrival place among ordered ones', async () => {
  const gate = new EngineGate(1);
  const started: string[] = [];
  const first = deferred();
  const runs: Promise<unknown>[] = [gate.run(() => (started.push('busy'), first.promise))];
  const ds = new Map<string, { resolve: (v: string) => void }>();
  const add = (name: string, order?: { job: string; index: number }) => {
    const d = deferred();
    ds.set(name, d);
    runs.push(gate.run(() => (started.push(name), d.promise), undefined, order));
  };
  add('detect');
  add('A1', { job: 'A', index: 1 });
  add('A0', { job: 'A', index: 0 });
  await tick();
  first.resolve('x');
  for (let k = 0; k < 3; k++) {
    await tick();
    const last = started[started.length - 1];
    ds.get(last)!.resolve(last);
  }
  await Promise.all(runs);
  expect(started).toEqual(['busy', 'detect', 'A0', 'A1']);
});
