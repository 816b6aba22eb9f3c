/** common/deadline.ts settleWithin: the work's outcome in time, else the fallback's (a value or a throw). */
import { settleWithin } from '../../common/deadline';

const never = new Promise<number>(() => undefined);

test('in time: the work\'s value, or its rejection', async () => {
  expect(await settleWithin(Promise.resolve(1), 50, () => 2)).toBe(1);
  await expect(settleWithin(Promise.reject(new Error('no')), 50, () => 2)).rejects.toThrow('no');
});

test('late: the fallback\'s value, or what it throws', async () => {
  expect(await settleWithin(never, 20, () => 2)).toBe(2);
  await expect(settleWithin(never, 20, () => {
    throw new RangeError('late');
  })).rejects.toBeInstanceOf(RangeError);
});
