/**
 * API keys: `fsk_<keyId>_<secret>`. The key id is public (it finds the row); only sha256(key) is stored,
 * and the comparison is constant-time, so neither the database nor response timing reveals a key.
 */
import * as crypto from 'node:crypto';
import type { Pool } from 'pg';
import type { Tier } from './constants';

const KEY_PREFIX = 'fsk';
const KEY_RE = /^fsk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

function hashKey(key: string): Buffer {
  return crypto.createHash('sha256').update(key).digest();
}

/** A new random key (shown once) and its id. 32 random bytes → 256 bits of secret. */
export function generateApiKey(): { keyId: string; apiKey: string; hash: Buffer } {
  const keyId = crypto.randomBytes(9).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 12);
  const apiKey = `${KEY_PREFIX}_${keyId}_${crypto.randomBytes(32).toString('base64url')}`;
  return { keyId, apiKey, hash: hashKey(apiKey) };
}

export interface Principal {
  userId: string;
  tier: Tier;
  keyId: string;
}

/**
 * Resolves a key to its user and tier, or null for a malformed, unknown or revoked key.
 * Always hashes and compares, even when the row is missing, so timing does not tell which.
 */
export async function resolveApiKey(pool: Pool, apiKey: string): Promise<Principal | null> {
  const m = KEY_RE.exec(apiKey);
  const presented = hashKey(apiKey);
  if (!m) return null;
  const { rows } = await pool.query(
    `SELECT k.key_hash, k.revoked_at, u.id AS user_id, u.tier
       FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = $1`,
    [m[1]],
  );
  const stored: Buffer = rows[0]?.key_hash ?? crypto.randomBytes(presented.length);
  const equal = crypto.timingSafeEqual(stored, presented);
  if (!rows[0] || !equal || rows[0].revoked_at) return null;
  return { userId: rows[0].user_id, tier: rows[0].tier, keyId: m[1] };
}

/** Creates a key for a user; returns the key once. */
export async function createApiKey(pool: Pool, userId: string): Promise<{ keyId: string; apiKey: string }> {
  const k = generateApiKey();
  await pool.query('INSERT INTO api_keys (id, user_id, key_hash) VALUES ($1, $2, $3)', [k.keyId, userId, k.hash]);
  return { keyId: k.keyId, apiKey: k.apiKey };
}

/** Creates a user with one key. */
export async function createUser(
  pool: Pool,
  tier: Tier,
  name: string,
): Promise<{ userId: string; keyId: string; apiKey: string }> {
  const userId = crypto.randomUUID();
  await pool.query('INSERT INTO users (id, name, tier) VALUES ($1, $2, $3)', [userId, name, tier]);
  return { userId, ...(await createApiKey(pool, userId)) };
}
