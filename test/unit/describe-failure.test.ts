/** workflows/chunks.ts describeFailure: what a job's user reads when it fails (never a JS exception name or Temporal's wording). */
import { ActivityFailure, ApplicationFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { chunkSummary, describeFailure } from '../../workflows/chunks';

const viaActivity = (cause: Error) => new ActivityFailure('activity failed', 'transcribeChunk', '1', RetryState.MAXIMUM_ATTEMPTS_REACHED, 'worker', cause);

test('our own failures keep their code and sentence', () => {
  expect(describeFailure(viaActivity(ApplicationFailure.nonRetryable('the audio cannot be decoded', 'unsupported_audio')))).toEqual({
    code: 'unsupported_audio',
    message: 'the audio cannot be decoded',
  });
});

test('a library exception becomes internal with our sentence', () => {
  const pg = ApplicationFailure.create({ message: 'relation "jobs" does not exist at /srv/app/node_modules/pg/lib/x.js', type: 'DatabaseError' });
  expect(describeFailure(viaActivity(pg))).toEqual({ code: 'internal', message: 'the job failed inside the service' });
  expect(describeFailure(viaActivity(ApplicationFailure.create({ message: "Cannot read properties of undefined (reading 'x')", type: 'TypeError' })))).toEqual({
    code: 'internal',
    message: 'the job failed inside the service',
  });
});

test("Temporal's timeout wording stays out", () => {
  const timeout = new TimeoutFailure('activity Heartbeat timeout', undefined, TimeoutType.HEARTBEAT);
  const got = describeFailure(viaActivity(timeout));
  expect(got.code).toBe('internal');
  expect(got.message).not.toMatch(/activity|Heartbeat/);
});

describe('chunkSummary (the Temporal UI line of a chunk activity)', () => {
  test('1-based index, of the total when known, span in seconds; the channel of a multichannel job', () => {
    expect(chunkSummary({ index: 2, start: 12, end: 41.23 }, 19)).toBe('chunk 3/19 (12.0–41.2 s)');
    expect(chunkSummary({ index: 0, start: 0.4, end: 29.9 }, null)).toBe('chunk 1 (0.4–29.9 s)');
    expect(chunkSummary({ index: 4, start: 100, end: 120, channel: 1 }, 9)).toBe('channel 1, chunk 5/9 (100.0–120.0 s)');
  });
});
