/**
 * What `POST /v1/jobs` checks about a `webhookUrl` before admitting the job, so a caller learns at once
 * what would only fail later: the user must have a signing secret, and an IP-literal host must pass the
 * SSRF policy. Names are not resolved here: the decision on a name is made at delivery, on the address
 * it then resolves to (webhooks/ssrf.ts).
 */
import * as net from 'node:net';
import type { Pool } from 'pg';
import { bareHost, checkAddress, checkUrlForm, WebhookRefusedError, type AllowList } from '../webhooks/ssrf';
import { webhookSecretOf } from '../webhooks/secrets';
import { ApiError } from './errors';

/** @throws ApiError 400 `invalid_request` saying what is wrong with the webhook set-up */
export async function checkWebhookRequest(pool: Pool, allow: AllowList, userId: string, webhookUrl: string): Promise<void> {
  let url: URL;
  try {
    url = checkUrlForm(webhookUrl);
  } catch (err) {
    if (err instanceof WebhookRefusedError) throw new ApiError(400, 'invalid_request', err.message);
    throw err;
  }
  const host = bareHost(url);
  if (net.isIP(host)) {
    const v = checkAddress(host, allow);
    if (!v.ok) throw new ApiError(400, 'invalid_request', `webhookUrl refused: ${v.reason}`);
  }
  if (!(await webhookSecretOf(pool, userId))) {
    throw new ApiError(
      400,
      'invalid_request',
      'webhookUrl needs a webhook signing secret for your account first (admin: webhook-secret rotate --user <id>)',
    );
  }
}
