/** workflows/chunks.ts describeFailure: what a job's user reads when it fails (never a JS exception name or Temporal's wording). */
import { ActivityFailure, ApplicationFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { describeFailure } from '../../workflows/chunks';

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
