/**
 * Audio by URL (`POST /v1/jobs` with `url`): the API fetches the file into the upload area as if it had
 * been uploaded, under the webhooks' SSRF policy (webhooks/ssrf.ts): every address the host resolves to
 * must be public unless `AUDIO_URL_ALLOW` lets it through, and the connection goes to exactly the
 * address that was checked (no second DNS lookup, so DNS rebinding cannot slip through). Redirects are
 * followed at most MAX_REDIRECTS times, each target checked again; only http and https.
 *
 * Errors (all ApiError, never a 500): 400 url_not_allowed (scheme, credentials, a refused address),
 * 422 url_unreachable (DNS, connection, non-2xx, too many redirects, timeouts), 413 file_too_large
 * (while streaming, or at once from Content-Length). A refused or failed fetch leaves no file behind.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { audioUrlFetched } from '../common/metrics';
import {
  bareHost,
  resolveTarget,
  systemResolver,
  WebhookRefusedError,
  WebhookUnresolvedError,
  type AllowList,
  type ConnectHook,
  type PinnedTarget,
  type Resolver,
} from '../webhooks/ssrf';
import { ApiError } from './errors';
import type { ReceivedUpload } from './upload';

/** Redirects followed before giving up (the rule; curl's --max-redirs 3 does the same). */
export const MAX_REDIRECTS = 3;
/** Connecting (TCP, and TLS for https) must finish within this many milliseconds. */
export const CONNECT_TIMEOUT_MS = 10_000;

export interface AudioUrlOptions {
  /** non-public ranges the fetch may reach (config AUDIO_URL_ALLOW, WEBHOOK_ALLOW's syntax) */
  allow: AllowList;
  /** the tier's file size limit, bytes */
  maxBytes: number;
  /** where the body is written (the job's upload blob path) */
  destPath: string;
  /** the whole fetch (every redirect included) must end within this, milliseconds */
  totalTimeoutMs: number;
  connectTimeoutMs?: number;
  resolve?: Resolver;
  beforeConnect?: ConnectHook;
}

export type FetchOutcome = 'ok' | 'not_allowed' | 'unreachable' | 'too_large' | 'timeout';

/**
 * The URL as it may be stored and logged: scheme, host, port and path, without userinfo, query string
 * or fragment (a signed URL carries its signature in the query). A string that is not a URL gives null.
 */
export function redactUrl(raw: string): string | null {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return null;
  }
}

/** The last path segment as a file name (decoded, unsafe characters replaced), or `audio`. */
export function filenameFromUrl(url: URL): string {
  const last = url.pathname.split('/').filter(Boolean).pop() ?? '';
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    name = last;
  }
  // eslint-disable-next-line no-control-regex
  name = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').slice(0, 255);
  return name && name !== '.' && name !== '..' ? name : 'audio';
}

/** Turns the SSRF module's errors into ours; the messages there name the webhook field, here it is `url`. */
function policyError(err: unknown): ApiError | null {
  const msg = (e: Error) => e.message.replace(/webhookUrl/g, 'url');
  if (err instanceof WebhookRefusedError) return new ApiError(400, 'url_not_allowed', msg(err), { param: 'url' });
  if (err instanceof WebhookUnresolvedError) return new ApiError(422, 'url_unreachable', msg(err), { param: 'url' });
  return null;
}

class FetchFailure extends Error {
  constructor(readonly apiError: ApiError, readonly outcome: FetchOutcome) {
    super(apiError.message);
  }
}

/**
 * Fetches `raw` into `opts.destPath`, following redirects under the policy.
 * @returns the upload as receiveMultipart would have given it (`fields` empty)
 * @throws ApiError 400 url_not_allowed | 422 url_unreachable | 413 file_too_large; no file is left
 */
export async function fetchAudioUrl(raw: string, opts: AudioUrlOptions): Promise<NonNullable<ReceivedUpload['file']>> {
  try {
    new URL(raw);
  } catch {
    throw new ApiError(400, 'invalid_request', 'url is not a URL', { param: 'url' });
  }
  const deadline = Date.now() + opts.totalTimeoutMs;
  try {
    let current = raw;
    for (let hop = 0; ; hop++) {
      let target: PinnedTarget;
      try {
        target = await resolveTarget(current, opts.allow, opts.resolve ?? systemResolver);
      } catch (err) {
        const e = policyError(err);
        if (e) throw new FetchFailure(e, e.code === 'url_not_allowed' ? 'not_allowed' : 'unreachable');
        throw err;
      }
      const answer = await getOnce(target, opts, deadline);
      if (answer.kind === 'redirect') {
        if (hop >= MAX_REDIRECTS) {
          throw new FetchFailure(new ApiError(422, 'url_unreachable', `url redirected more than ${MAX_REDIRECTS} times`, { param: 'url' }), 'unreachable');
        }
        current = new URL(answer.location, target.url).toString();
        continue;
      }
      audioUrlFetched('ok');
      return { ...answer.file, filename: filenameFromUrl(target.url) };
    }
  } catch (err) {
    await fs.promises.rm(opts.destPath, { force: true });
    if (err instanceof FetchFailure) {
      audioUrlFetched(err.outcome);
      throw err.apiError;
    }
    audioUrlFetched('unreachable');
    throw new ApiError(422, 'url_unreachable', `url could not be fetched: ${(err as Error).message}`, { param: 'url' });
  }
}

type Answer =
  | { kind: 'redirect'; location: string }
  | { kind: 'file'; file: { path: string; bytes: number; mimeType: string; sha256: string } };

/** One GET to the pinned address: a redirect's Location, or the body streamed to destPath. */
function getOnce(target: PinnedTarget, opts: AudioUrlOptions, deadline: number): Promise<Answer> {
  const isHttps = target.url.protocol === 'https:';
  const servername = net.isIP(bareHost(target.url)) ? undefined : bareHost(target.url);
  const connectMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const where = `${target.url.host}${target.url.pathname}`;
  return new Promise<Answer>((resolve, reject) => {
    let settled = false;
    let sink: fs.WriteStream | null = null;
    const fail = (e: FetchFailure) => {
      if (settled) return;
      settled = true;
      clearTimeout(total);
      req.destroy();
      // A write stream destroyed before its file opened still creates it: answer once it is closed,
      // so the caller's removal cannot run before the file exists.
      const open = sink;
      if (open && !open.closed) {
        open.once('close', () => reject(e));
        open.destroy();
      } else {
        reject(e);
      }
    };
    const unreachable = (message: string, outcome: FetchOutcome = 'unreachable') =>
      fail(new FetchFailure(new ApiError(422, 'url_unreachable', message, { param: 'url' }), outcome));
    const total = setTimeout(
      () => unreachable(`url did not finish within ${Math.round(opts.totalTimeoutMs / 1000)} s`, 'timeout'),
      Math.max(0, deadline - Date.now()),
    );
    // Our own socket to the checked address: http.request cannot resolve the name again.
    const createConnection = () => {
      opts.beforeConnect?.(target.address, target.port);
      const sock = isHttps
        ? tls.connect({ host: target.address, port: target.port, servername })
        : net.connect({ host: target.address, port: target.port });
      const timer = setTimeout(() => unreachable(`url: connecting to ${target.url.host} took over ${connectMs / 1000} s`, 'timeout'), connectMs);
      sock.once(isHttps ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      sock.once('close', () => clearTimeout(timer));
      return sock;
    };
    const req = (isHttps ? https : http).request(
      {
        method: 'GET',
        host: target.address,
        port: target.port,
        path: `${target.url.pathname}${target.url.search}`,
        headers: { host: target.url.host, 'user-agent': 'fairscribe-audio-fetch/1', accept: '*/*' },
        agent: undefined,
        createConnection: createConnection as never,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          settled = true;
          clearTimeout(total);
          req.destroy();
          resolve({ kind: 'redirect', location: res.headers.location });
          return;
        }
        if (status < 200 || status >= 300) {
          res.resume();
          return unreachable(`url answered HTTP ${status} (${where})`);
        }
        const tooLarge = () =>
          fail(
            new FetchFailure(
              new ApiError(413, 'file_too_large', `the file at url is larger than your tier's limit of ${opts.maxBytes} bytes`, {
                limit: opts.maxBytes,
                param: 'url',
              }),
              'too_large',
            ),
          );
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > opts.maxBytes) return tooLarge();
        const out = fs.createWriteStream(opts.destPath);
        sink = out;
        const digest = crypto.createHash('sha256');
        let bytes = 0;
        res.on('data', (d: Buffer) => {
          bytes += d.length;
          if (bytes > opts.maxBytes) {
            // Settle first: destroying the response emits 'aborted', which would answer 422 instead.
            tooLarge();
            res.destroy();
            return;
          }
          digest.update(d);
          if (!out.write(d)) {
            res.pause();
            out.once('drain', () => res.resume());
          }
        });
        res.on('aborted', () => unreachable(`url: the connection closed mid-body (${where})`));
        res.on('error', (e) => unreachable(`url: ${e.message}`));
        res.on('end', () => {
          if (settled) return;
          out.end();
          out.once('close', () => {
            if (settled) return;
            settled = true;
            clearTimeout(total);
            resolve({
              kind: 'file',
              file: {
                path: opts.destPath,
                bytes,
                mimeType: String(res.headers['content-type'] ?? 'application/octet-stream'),
                sha256: digest.digest('hex'),
              },
            });
          });
        });
        out.on('error', (e) => unreachable(`url: writing the audio failed: ${e.message}`));
      },
    );
    req.on('error', (e) => unreachable(`url could not be fetched from ${target.url.host}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    req.end();
  });
}
