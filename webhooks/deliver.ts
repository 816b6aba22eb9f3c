/**
 * One signed webhook POST (Standard Webhooks, npm `standardwebhooks`): resolve and check the target
 * (./ssrf.ts), then connect to the pinned address only, with the original Host header (and TLS
 * servername, so certificates are checked against the name), never following a redirect.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Webhook } from 'standardwebhooks';
import { bareHost, resolveTarget, systemResolver, type AllowList, type ConnectHook, type Resolver } from './ssrf';

/** How a delivery reaches the network: injectable so tests keep every packet on this machine. */
export interface WebhookTransport {
  resolve: Resolver;
  /** runs with the pinned address before each socket opens; may throw to stop it */
  beforeConnect: ConnectHook;
  /** request timeout, milliseconds (connect + response headers) */
  timeoutMs: number;
}

export const defaultTransport: WebhookTransport = { resolve: systemResolver, beforeConnect: () => undefined, timeoutMs: 10_000 };

export interface SignedMessage {
  /** `webhook-id`: the same on every retry of one event, so receivers can deduplicate */
  id: string;
  /** the JSON body, exactly the bytes that are signed and sent */
  body: string;
}

/** The three Standard Webhooks headers for `msg` signed now with `secret` (`whsec_…`). */
export function signatureHeaders(secret: string, msg: SignedMessage, now = new Date()): Record<string, string> {
  const wh = new Webhook(secret);
  return {
    'webhook-id': msg.id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': wh.sign(msg.id, now, msg.body),
  };
}

export interface DeliveryResult {
  /** the receiver's HTTP status (a 3xx is returned as is: redirects are not followed) */
  status: number;
  /** the address actually connected to */
  address: string;
}

/** The most of a receiver's response we read before hanging up (we only need its status). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs `msg` to `url` signed with `secret`.
 * @throws WebhookRefusedError when the policy refuses the URL (no connection was attempted)
 * @throws Error for network failures and timeouts (retryable)
 */
export async function deliverWebhook(
  url: string,
  secret: string,
  msg: SignedMessage,
  allow: AllowList,
  transport: WebhookTransport = defaultTransport,
): Promise<DeliveryResult> {
  const target = await resolveTarget(url, allow, transport.resolve);
  const headers = {
    ...signatureHeaders(secret, msg),
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(msg.body)),
    'user-agent': 'fairscribe-webhooks/1',
    host: target.url.host,
  };
  const isHttps = target.url.protocol === 'https:';
  const servername = net.isIP(bareHost(target.url)) ? undefined : bareHost(target.url);
  // Our own socket to the pinned address: no second DNS lookup can happen inside http.request.
  const createConnection = () => {
    transport.beforeConnect(target.address, target.port);
    return isHttps
      ? tls.connect({ host: target.address, port: target.port, servername })
      : net.connect({ host: target.address, port: target.port });
  };
  const status = await new Promise<number>((resolve, reject) => {
    const req = (isHttps ? https : http).request(
      {
        method: 'POST',
        host: target.address,
        port: target.port,
        path: `${target.url.pathname}${target.url.search}`,
        headers,
        // No agent: with one, http.request would ignore createConnection and open its own socket.
        agent: undefined,
        createConnection: createConnection as never,
        timeout: transport.timeoutMs,
      },
      (res) => {
        let seen = 0;
        res.on('data', (b: Buffer) => {
          seen += b.length;
          if (seen > MAX_RESPONSE_BYTES) res.destroy();
        });
        res.on('close', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`webhook receiver did not answer within ${transport.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(msg.body);
  });
  return { status, address: target.address };
}
