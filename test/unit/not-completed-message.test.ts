/**
 * 409 not_completed on GET /v1/jobs/:id/transcript: a job under way will have a transcript, so "once it is
 * completed" is right; a failed, cancelled or expired job never will, and telling its owner to wait for it was
 * wrong ("the job is failed; its transcript exists once it is completed").
 */
import { notCompletedMessage } from '../../api/routes/jobs';

test.each([
  ['queued', null, 'the job is queued; its transcript exists once it is completed'],
  ['running', 2, "the job's version 2 is running; its transcript exists once it is completed"],
  ['failed', null, "the job failed, so it has no transcript (the job's error says why)"],
  ['cancelled', null, 'the job was cancelled, so it has no transcript'],
  ['expired', 1, "the job's version 1 expired, so it has no transcript"],
] as const)('%s (version %s)', (status, version, message) => {
  expect(notCompletedMessage(status, version)).toBe(message);
});
