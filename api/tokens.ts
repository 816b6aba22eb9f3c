/**
 * Short-lived tokens for browsers, which cannot set headers on EventSource or WebSocket (API.md
 * "Auth"): HMAC-SHA256 over {sub, scope, exp}. Stateless, so any API replica that shares TOKEN_SECRET
 * accepts a token another one issued.
 */
import * as crypto from 'node:crypto';

/** API.md: tokens live at most 5 minutes. */
export const TOKEN_TTL_SECONDS = 300;

export type TokenScope = { jobId: string } | { scope: 'listen' };

interface Payload {
  sub: string;
  /** `job:<id>` or `listen` */
  scp: string;
  exp: number;
}

export class TokenSigner {
  constructor(private readonly secret: Buffer) {}

  /** A token for `userId` limited to one job's events or to /v1/listen. */
  issue(userId: string, scope: TokenScope, now = Date.now()): { token: string; expiresAt: string } {
    const exp = Math.floor(now / 1000) + TOKEN_TTL_SECONDS;
    const payload: Payload = { sub: userId, scp: 'jobId' in scope ? `job:${scope.jobId}` : 'listen', exp };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { token: `${body}.${this.sign(body)}`, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /** The user id if `token` is genuine, unexpired and scoped to `scope`; else null. */
  verify(token: string, scope: string, now = Date.now()): string | null {
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
    if (p.scp !== scope || typeof p.exp !== 'number' || p.exp * 1000 < now) return null;
    return p.sub;
  }

  private sign(body: string): string {
    return crypto.createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
