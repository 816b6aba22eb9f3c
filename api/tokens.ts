/**
 * Short-lived tokens for browsers, which cannot set headers on EventSource or WebSocket (docs/api.md
 * `POST /v1/tokens`): HMAC-SHA256 over {sub, scope, exp}. Stateless, so any API replica that shares TOKEN_SECRET
 * accepts a token another one issued.
 */
import * as crypto from 'node:crypto';
import type { Pool } from 'pg';
import type { Principal } from '../common/keys';

/** Tokens live at most 5 minutes (README, docs/api.md `POST /v1/tokens`). */
export const TOKEN_TTL_SECONDS = 300;

export type TokenScope = { jobId: string } | { scope: 'listen' };

interface Payload {
  sub: string;
  /** `job:<id>` or `listen` */
  scp: string;
  exp: number;
  /** the API key that minted the token: revoking that key revokes the token */
  kid: string;
}

export class TokenSigner {
  constructor(private readonly secret: Buffer) {}

  /** A token for the caller (`userId`, minted with key `keyId`) limited to one job's events or to /v1/listen. */
  issue(caller: { userId: string; keyId: string }, scope: TokenScope, now = Date.now()): { token: string; expiresAt: string } {
    const exp = Math.floor(now / 1000) + TOKEN_TTL_SECONDS;
    const payload: Payload = { sub: caller.userId, scp: 'jobId' in scope ? `job:${scope.jobId}` : 'listen', exp, kid: caller.keyId };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { token: `${body}.${this.sign(body)}`, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /** The user and minting key if `token` is genuine, unexpired and scoped to `scope`; else null. */
  verify(token: string, scope: string, now = Date.now()): { userId: string; keyId: string } | null {
    const [body, mac, extra] = token.split('.');
    if (!body || !mac || extra !== undefined) return null;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return null;
    let p: Payload;
    try {
      p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (p.scp !== scope || typeof p.exp !== 'number' || p.exp * 1000 < now || typeof p.kid !== 'string') return null;
    return { userId: p.sub, keyId: p.kid };
  }

  private sign(body: string): string {
    return crypto.createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}

/**
 * The caller a `?token=` stands for, or null when the token is bad, expired, for another scope, or the
 * API key that minted it has since been revoked (checked on every use, so revoking a key ends its tokens).
 */
export async function principalFromToken(pool: Pool, tokens: TokenSigner, token: string, scope: string): Promise<Principal | null> {
  const v = tokens.verify(token, scope);
  if (!v) return null;
  const { rows } = await pool.query(
    `SELECT u.tier FROM api_keys k JOIN users u ON u.id = k.user_id
      WHERE k.id = $1 AND k.user_id = $2 AND k.revoked_at IS NULL`,
    [v.keyId, v.userId],
  );
  return rows[0] ? { userId: v.userId, tier: rows[0].tier, keyId: `token:${v.userId}` } : null;
}
