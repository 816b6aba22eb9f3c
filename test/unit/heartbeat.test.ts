import type { Context } from '@temporalio/activity';
import { withHeartbeat } from '../../activities/heartbeat';

/** The part of Temporal's activity Context the helper uses. */
function fakeContext() {
  let cancel!: (e: Error) => void;
  const cancelled = new Promise<never>((_, reject) => (cancel = reject));
  cancelled.catch(() => undefined);
  const ctx = { beats: 0, heartbeat() { ctx.beats++; }, cancelled };
  return { ctx, cancel };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('beats at once and every interval while the work runs, and stops when it settles', async () => {
  const { ctx } = fakeContext();
  let finish!: (v: string) => void;
  const p = withHeartbeat(ctx as unknown as Context, 1000, () => new Promise<string>((r) => (finish = r)));
  expect(ctx.beats).toBe(1);
  jest.advanceTimersByTime(3500);
  expect(ctx.beats).toBe(4);
  finish('done');
  await expect(p).resolves.toBe('done');
  jest.advanceTimersByTime(5000);
  expect(ctx.beats).toBe(4);
});

test('a failing work rejects with its error and stops beating', async () => {
  const { ctx } = fakeContext();
  const p = withHeartbeat(ctx as unknown as Context, 1000, async () => {
    throw new Error('engine broke');
  });
  await expect(p).rejects.toThrow('engine broke');
  jest.advanceTimersByTime(5000);
  expect(ctx.beats).toBe(1);
});

test('cancellation settles it at once, though the work has not', async () => {
  const { ctx, cancel } = fakeContext();
  const p = withHeartbeat(ctx as unknown as Context, 1000, () => new Promise<never>(() => undefined));
  cancel(new Error('cancelled'));
  await expect(p).rejects.toThrow('cancelled');
  jest.advanceTimersByTime(5000);
  expect(ctx.beats).toBe(1);
});
