/** Per-user webhook signing secrets (Standard Webhooks format: `whsec_` + base64 of random bytes). */
import * as crypto from 'node:crypto';
import type { Pool } from 'pg';

/** 32 random bytes: the spec allows 24 to 64; 256 bits matches HMAC-SHA256's key strength. */
const SECRET_BYTES = 32;

/** Makes a new secret for `userId`, replacing any old one (deliveries from now on are signed with it). */
export async function rotateWebhookSecret(pool: Pool, userId: string): Promise<string> {
  const secret = `whsec_${crypto.randomBytes(SECRET_BYTES).toString('base64')}`;
  await pool.query(
    `INSERT INTO webhook_secrets (user_id, secret) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, rotated_at = now()`,
    [userId, secret],
  );
  return secret;
}

/** The user's current secret, or null when none was ever made. */
export async function webhookSecretOf(pool: Pool, userId: string): Promise<string | null> {
  const { rows } = await pool.query('SELECT secret FROM webhook_secrets WHERE user_id = $1', [userId]);
  return rows[0]?.secret ?? null;
}
