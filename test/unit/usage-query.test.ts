/**
 * GET /v1/usage `?day=`: one reason per mistake. A day not written as YYYY-MM-DD used to get both sentences,
 * "day: must be a UTC day as YYYY-MM-DD; day: must be a real calendar day", the second about a date it never read.
 */
import { describeZodError, usageQuery, validate } from '../../api/schemas';

function message(day: string): string | null {
  const r = validate(usageQuery, { day });
  return r.success ? null : describeZodError(r.error);
}

test.each([
  ['yesterday', 'day: must be a UTC day as YYYY-MM-DD'],
  ['2026-1-5', 'day: must be a UTC day as YYYY-MM-DD'],
  ['2026-02-30', 'day: must be a real calendar day'],
  ['2026-13-45', 'day: must be a real calendar day'],
])('%s → %s', (day, expected) => {
  expect(message(day)).toBe(expected);
});

test('a real day passes', () => {
  expect(message('2026-12-07')).toBeNull();
});
