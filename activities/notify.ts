/**
 * Webhook notifications on the orchestration queue: one POST per job end event (README "Webhooks"),
 * retried with backoff by Temporal (workflows/webhook.ts). Idempotent by job id + event type: the
 * delivery row holds a stable `webhook-id`, and once `delivered_at` is set a retry sends nothing.
 * The payload is built here from Postgres: the workflow hands over only the job id and event.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { JobRepository } from '../jobs/repository';
import { jobJsonOf, type JobRow } from '../api/job-json';
import { defaultTransport, deliverWebhook, type WebhookTransport } from '../webhooks/deliver';
import { WebhookRefusedError, type AllowList } from '../webhooks/ssrf';
import { webhookSecretOf } from '../webhooks/secrets';
import type { WebhookEvent } from '../common/jobs';

export interface NotifyDeps {
  pool: Pool;
  /** non-public address ranges the operator lets webhooks reach (config WEBHOOK_ALLOW) */
  allow: AllowList;
  transport?: WebhookTransport;
}

export interface NotifyResult {
  delivered: boolean;
  /** why nothing was sent: `no_webhook`, `deleted`, `already_delivered` */
  skipped?: string;
  status?: number;
}

/** Longest error text kept on a delivery row. */
const MAX_ERROR_CHARS = 500;

export function createNotifyActivities({ pool, allow, transport = defaultTransport }: NotifyDeps) {
  const record = (jobId: string, type: string, fields: { status?: number; error?: string; delivered?: boolean; refused?: boolean }) =>
    pool.query(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $3, last_error = $4,
              delivered_at = CASE WHEN $5 THEN now() ELSE delivered_at END,
              refused_at = CASE WHEN $6 THEN now() ELSE refused_at END
        WHERE job_id = $1 AND event_type = $2`,
      [jobId, type, fields.status ?? null, fields.error?.slice(0, MAX_ERROR_CHARS) ?? null, !!fields.delivered, !!fields.refused],
    );

  return {
    /**
     * POSTs `{type: "job.<event>", data: <job JSON>}` to the job's `webhookUrl`, signed with its owner's
     * secret. Returns once the receiver answered 2xx (or there is nothing to send).
     * @throws retryable failure when the receiver is unreachable or answers non-2xx (3xx included:
     *   redirects are not followed)
     * @throws non-retryable `webhook_refused` when the SSRF policy refuses the target, or the user has no secret
     */
    async notifyWebhook({ jobId, event }: { jobId: string; event: WebhookEvent }): Promise<NotifyResult> {
      const type = `job.${event}`;
      const found = await new JobRepository(pool).get(jobId);
      const rows = found ? [found as JobRow & { user_id: string; deleted_at: Date | null }] : [];
      const job = rows[0];
      const url = job?.options?.webhookUrl;
      if (!job || typeof url !== 'string') return { delivered: false, skipped: 'no_webhook' };
      // A deleted job's transcript is gone on purpose; do not send what is left of it.
      if (job.deleted_at) return { delivered: false, skipped: 'deleted' };
      await pool.query(
        `INSERT INTO webhook_deliveries (job_id, event_type, webhook_id, url) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [jobId, type, `msg_${jobId}_${event}`, url],
      );
      const d = await pool.query('SELECT webhook_id, delivered_at FROM webhook_deliveries WHERE job_id = $1 AND event_type = $2', [jobId, type]);
      if (d.rows[0].delivered_at) return { delivered: true, skipped: 'already_delivered' };
      const secret = await webhookSecretOf(pool, job.user_id);
      if (!secret) {
        const error = 'the user has no webhook secret (admin webhook-secret rotate)';
        await record(jobId, type, { error, refused: true });
        throw ApplicationFailure.nonRetryable(error, 'webhook_refused');
      }
      // The job as of this version (a version row is shown under its job's id, with `version`).
      const body = JSON.stringify({ type, data: await jobJsonOf(pool, job) });
      let status: number;
      try {
        ({ status } = await deliverWebhook(url, secret, { id: d.rows[0].webhook_id, body }, allow, transport));
      } catch (err) {
        const error = (err as Error).message;
        if (err instanceof WebhookRefusedError) {
          await record(jobId, type, { error, refused: true });
          throw ApplicationFailure.nonRetryable(error, 'webhook_refused');
        }
        await record(jobId, type, { error });
        throw ApplicationFailure.retryable(`webhook delivery failed: ${error}`, 'webhook_unreachable');
      }
      const ok = status >= 200 && status < 300;
      await record(jobId, type, { status, delivered: ok, error: ok ? undefined : `receiver answered HTTP ${status}` });
      if (!ok) throw ApplicationFailure.retryable(`webhook receiver answered HTTP ${status}`, 'webhook_rejected');
      return { delivered: true, status };
    },

    /**
     * Records on the job that its `event` webhook was given up on (refused, or every retry failed), with
     * the last error and the attempts, so the job JSON shows it (`webhook`). Idempotent.
     */
    async recordWebhookFailure({ jobId, event }: { jobId: string; event: WebhookEvent }): Promise<void> {
      const type = `job.${event}`;
      const { rows } = await pool.query('SELECT attempts, last_error FROM webhook_deliveries WHERE job_id = $1 AND event_type = $2', [jobId, type]);
      const failure = { event: type, error: rows[0]?.last_error ?? 'the webhook could not be delivered', attempts: rows[0]?.attempts ?? 0 };
      await new JobRepository(pool).setWebhookFailure(jobId, failure);
    },
  };
}
