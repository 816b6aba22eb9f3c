/**
 * Audio retention as its own small workflow `audio-retention-<jobId>`, started by a completed job's
 * workflow and abandoned by it (the job's workflow ends at once, as without retention): it sleeps on a
 * durable Temporal timer until the retention ends — surviving worker and server restarts — then
 * deletes the audio. DELETE /v1/jobs/:id cancels it; the audio goes then too.
 */
import { CancellationScope, ParentClosePolicy, isCancellation, proxyActivities, sleep, startChild } from '@temporalio/workflow';
import type { createRetentionActivities } from '../activities/retention';

type Retention = ReturnType<typeof createRetentionActivities>;

/** Never gives up: retained audio must not outlive its retention because the database was down. */
const retention = proxyActivities<Retention>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/** The retention workflow's id for a job (the API cancels it at DELETE). */
export function retentionWorkflowId(jobId: string): string {
  return `audio-retention-${jobId}`;
}

export async function audioRetentionWorkflow({ jobId, until }: { jobId: string; until: string }): Promise<void> {
  try {
    // Workflow time is replay-safe (Temporal's deterministic Date.now).
    const ms = Date.parse(until) - Date.now();
    if (ms > 0) await sleep(ms);
  } catch (err) {
    if (!isCancellation(err)) throw err;
  }
  await CancellationScope.nonCancellable(() => retention.releaseRetainedAudio({ jobId }));
}

/**
 * Marks the job's audio retained for `seconds` and starts its timer; when the job was deleted meanwhile
 * the audio goes at once instead. Call from a completed job's workflow, where it would delete the audio.
 */
export async function retainAudio(jobId: string, seconds: number): Promise<void> {
  const { until } = await retention.retainAudio({ jobId, seconds });
  if (until === null) return;
  try {
    await startChild(audioRetentionWorkflow, {
      workflowId: retentionWorkflowId(jobId),
      args: [{ jobId, until }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch {
    // Already started (a reset or a replayed end): that one holds the timer.
  }
}
