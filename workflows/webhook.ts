/**
 * Webhook delivery as its own small workflow, started by a job's workflow at its end and abandoned by
 * it: the job's end (and a DELETE waiting for it) never waits on a slow or failing receiver, while the
 * delivery keeps Temporal's durable retries with backoff. Workflow id `webhook-<jobId>-<event>`, so
 * one event is delivered by one workflow even if the start is repeated.
 */
import { ParentClosePolicy, proxyActivities, startChild } from '@temporalio/workflow';
import type { createNotifyActivities } from '../activities/notify';
import type { WebhookEvent } from '../common/jobs';

type Notify = ReturnType<typeof createNotifyActivities>;

/** About 2 s, 4 s, 8 s … capped at 10 min: 12 attempts span roughly an hour before giving up. */
const notify = proxyActivities<Notify>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '10 minutes',
    maximumAttempts: 12,
    nonRetryableErrorTypes: ['webhook_refused'],
  },
});

const bookkeeping = proxyActivities<Notify>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

export async function webhookDeliveryWorkflow({ jobId, event }: { jobId: string; event: WebhookEvent }): Promise<void> {
  try {
    await notify.notifyWebhook({ jobId, event });
  } catch (err) {
    // Given up (refused, or every retry failed): say so on the job, where its owner looks.
    await bookkeeping.recordWebhookFailure({ jobId, event });
    throw err;
  }
}

/** Starts the delivery of `event` for `jobId` and returns once it started; never throws. */
export async function startWebhookDelivery(jobId: string, event: WebhookEvent): Promise<void> {
  try {
    await startChild(webhookDeliveryWorkflow, {
      workflowId: `webhook-${jobId}-${event}`,
      args: [{ jobId, event }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch {
    // Already started (a reset or a repeated end) or refused: a webhook must never fail the job.
  }
}
