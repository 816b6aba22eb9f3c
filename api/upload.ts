/**
 * Streaming multipart upload (busboy): the audio part goes straight to a file while the size limit is
 * enforced as bytes arrive; nothing is buffered in memory and a refused upload leaves no file behind.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import type { Request, Response } from 'express';
import type { Principal } from '../common/keys';
import type { TierLimits } from '../common/tiers';
import { onBodyIdle } from './body-timeout';
import { ApiError } from './errors';
import type { UploadSlots } from './upload-slots';
import { refuseBeforeBody } from './early-refusal';
import type { QuotaService } from '../quota/quota-service';

export interface ReceivedUpload {
  fields: Record<string, string>;
  /** `sha256`: hex digest of the file's bytes, computed while streaming */
  file: { path: string; bytes: number; filename: string; mimeType: string; sha256: string } | null;
}

export interface UploadOptions {
  /** the tier's limit in bytes; one byte more answers 413 file_too_large */
  maxFileBytes: number;
  /** where the `file` part is written */
  destPath: string;
  /** the one file field's name */
  fileField?: string;
  /** fields that may repeat (e.g. OpenAI's `timestamp_granularities[]`); their values join with ',' */
  repeatable?: string[];
  /** the 408's sentence when the body stalls */
  idleMessage?: string;
  /**
   * Refuse from the headers when every concurrency slot is held or the day's quota is spent
   * (api/early-refusal.ts); leave it off where a retry may answer with an earlier job.
   */
  refuseAtLimits?: boolean;
}

const MAX_FIELDS = 50;
const MAX_FIELD_BYTES = 16 * 1024;
/**
 * The longest file name kept (bytes of UTF-8): 255, every common file system's limit for one name (ext4,
 * APFS, NTFS in UTF-16 units), so no real file has a longer one; the name is stored with the job.
 */
const MAX_FILENAME_BYTES = 255;

/** True for multipart/form-data requests. */
export function isMultipart(req: Request): boolean {
  return /^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '');
}

/**
 * Parses a multipart request, writing the file part to `destPath`.
 * Every failure answers once and leaves nothing: after the first failure no later part is written
 * (busboy still emits parts already in its buffer), the file being written is closed and removed, and
 * the promise settles without waiting for bytes that will never come. A body that stalls for the idle
 * timeout (api/body-timeout.ts) fails with 408 request_timeout the same way.
 * @throws ApiError 415 (not multipart, or a Content-Encoding), 413 file_too_large (while streaming), 408 request_timeout,
 *   400 invalid_request (a repeated field or file part, a second file field, a field over 16 KB,
 *   malformed body); the partial file is removed.
 */
export async function receiveMultipart(req: Request, opts: UploadOptions): Promise<ReceivedUpload> {
  if (!isMultipart(req)) {
    throw new ApiError(415, 'unsupported_media_type', 'the request body must be multipart/form-data');
  }
  // busboy reads the body as sent: a compressed one would fail as "malformed multipart body … cut short".
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== '') {
    throw new ApiError(415, 'unsupported_media_type', `Content-Encoding ${encoding} is not supported for uploads: send the multipart body uncompressed (audio is compressed already)`);
  }
  const fileField = opts.fileField ?? 'file';
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      // Keep the client's name as sent, so a name with path parts is refused instead of silently cut.
      preservePath: true,
      // Browsers, curl and fetch send file names as raw UTF-8; busboy's default (latin1) would mangle
      // every non-ASCII name (RFC 7578 §4.2). RFC 5987 `filename*=` names are decoded either way.
      defParamCharset: 'utf8',
      limits: { fileSize: opts.maxFileBytes, files: 2, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES },
    });
  } catch {
    throw new ApiError(400, 'invalid_request', 'malformed multipart request: the Content-Type has no usable boundary');
  }
  const fields: Record<string, string> = {};
  let file: ReceivedUpload['file'] = null;
  let fileWrite: Promise<void> | null = null;
  let fileStream: (NodeJS.ReadableStream & { destroy(): void }) | null = null;
  let sink: fs.WriteStream | null = null;
  /** settles when the file handle is closed (a destroyed stream closes too, once its open is done) */
  let sinkClosed: Promise<void> | null = null;
  let failed = false;
  let unwatch: () => void = () => undefined;

  const result = new Promise<ReceivedUpload>((resolve, reject) => {
    const fail = (e: ApiError) => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      // Ends the file pipeline now instead of waiting for bytes that will never come.
      fileStream?.destroy();
      sink?.destroy();
      reject(e);
    };
    bb.on('field', (name, value, info) => {
      if (failed) return;
      if (name === fileField) {
        return fail(new ApiError(400, 'missing_file', `the part named '${fileField}' is a text field; send the audio as a file part (with a filename)`));
      }
      if (name in fields) {
        if (opts.repeatable?.includes(name)) return void (fields[name] += `,${value}`);
        return fail(new ApiError(400, 'invalid_request', `field '${name}' is repeated`));
      }
      if (info.valueTruncated) {
        return fail(new ApiError(400, 'invalid_request', `field '${name}' is too long (at most ${MAX_FIELD_BYTES} bytes)`, { param: name }));
      }
      fields[name] = value;
    });
    bb.on('file', (name, stream, info) => {
      // A part busboy had buffered before the failure: drop it, never open a file for it.
      if (failed) return void stream.resume();
      if (name !== fileField) {
        stream.resume();
        return fail(new ApiError(400, 'invalid_request', `'${name}' is not a file field; send the audio as '${fileField}'`));
      }
      if (file) {
        stream.resume();
        return fail(new ApiError(400, 'invalid_request', `'${fileField}' is repeated: send one file per request`));
      }
      const filename = info.filename ?? '';
      if (Buffer.byteLength(filename) > MAX_FILENAME_BYTES) {
        stream.resume();
        return fail(
          new ApiError(400, 'invalid_request', `the file name is ${Buffer.byteLength(filename)} bytes; at most ${MAX_FILENAME_BYTES} are accepted`, {
            param: fileField,
          }),
        );
      }
      file = { path: opts.destPath, bytes: 0, filename, mimeType: info.mimeType, sha256: '' };
      const current = file;
      fileStream = stream;
      const digest = crypto.createHash('sha256');
      stream.on('data', (d: Buffer) => {
        current.bytes += d.length;
        digest.update(d);
      });
      stream.on('end', () => (current.sha256 = digest.digest('hex')));
      stream.on('limit', () =>
        fail(
          new ApiError(413, 'file_too_large', `the file is larger than your tier's limit of ${opts.maxFileBytes} bytes`, {
            limit: opts.maxFileBytes,
          }),
        ),
      );
      const out = fs.createWriteStream(opts.destPath);
      sink = out;
      sinkClosed = new Promise<void>((r) => out.once('close', () => r()));
      fileWrite = pipeline(stream, out).catch(() => {
        if (!failed) fail(new ApiError(400, 'invalid_request', 'the upload was interrupted'));
      });
    });
    bb.on('filesLimit', () => fail(new ApiError(400, 'invalid_request', `'${fileField}' is repeated: send one file per request`)));
    bb.on('fieldsLimit', () => fail(new ApiError(400, 'invalid_request', `too many fields (at most ${MAX_FIELDS})`)));
    bb.on('error', (err) => fail(new ApiError(400, 'invalid_request', multipartErrorSentence(err as Error))));
    bb.on('close', async () => {
      if (fileWrite) await fileWrite;
      if (!failed) resolve({ fields, file });
    });
    req.on('aborted', () => fail(new ApiError(400, 'invalid_request', 'the upload was aborted')));
    req.on('error', () => fail(new ApiError(400, 'invalid_request', 'the upload was aborted')));
    unwatch = onBodyIdle(req, () => fail(new ApiError(408, 'request_timeout', opts.idleMessage ?? 'the upload stalled; the connection is closed')));
    req.pipe(bb);
  });

  try {
    return await result;
  } catch (err) {
    // Wait until the destroyed file handle is closed, so the removal cannot race its creation; bounded,
    // so a file system that hangs cannot hold the answer.
    if (sinkClosed) await Promise.race([sinkClosed, new Promise((r) => setTimeout(r, SINK_CLOSE_WAIT_MS).unref())]);
    await fs.promises.rm(opts.destPath, { force: true });
    throw err;
  } finally {
    unwatch();
  }
}

/** How long a failed upload waits for its file handle to close before removing the file anyway. */
const SINK_CLOSE_WAIT_MS = 5_000;

/**
 * After refusing an upload part-way, the rest of the body is still on the wire and the connection
 * cannot serve another request: answer with `Connection: close`. A refused oversize upload and a
 * stalled one (408) are cut off once the answer is out; anything else is drained so the client reads
 * the answer instead of a reset (a drain that stalls is cut by the body idle timeout).
 */
export function abandonUpload(req: Request, res: Response, err: unknown): void {
  res.setHeader('Connection', 'close');
  if (err instanceof ApiError && (err.status === 413 || err.status === 408)) {
    res.on('finish', () => setTimeout(() => req.socket.destroy(), 50).unref());
  } else {
    req.resume();
  }
}

/** What the upload routes share: the user's upload slot, the body, and the refusal's clean-up. */
export interface LimitedUploadDeps {
  uploadSlots: UploadSlots;
  /** the quota counters, for the refusals decided before the body (api/early-refusal.ts) */
  quota?: Pick<QuotaService, 'counters'>;
}

/**
 * Refuses what the headers already condemn (api/early-refusal.ts: declared size, and with
 * `refuseAtLimits` running jobs and the day's quota), takes one of the user's upload slots (429
 * concurrency_limit before any byte of the body is read),
 * receives the multipart body, and gives the slot back once the body is in (or refused).
 * On a refusal the connection is set to close (abandonUpload) and the error rethrown.
 */
export async function receiveLimitedUpload(
  deps: LimitedUploadDeps,
  req: Request,
  res: Response,
  me: Principal,
  limits: TierLimits,
  opts: UploadOptions,
): Promise<ReceivedUpload> {
  let slot;
  try {
    // What will be refused anyway is refused before the body is read (api/early-refusal.ts).
    await refuseBeforeBody(deps.quota, req, me, limits, { maxFileBytes: opts.maxFileBytes, slots: opts.refuseAtLimits });
    slot = await deps.uploadSlots.acquire(me.userId, me.tier, limits);
  } catch (err) {
    // The body was not read: the connection cannot carry another request.
    abandonUpload(req, res, err);
    throw err;
  }
  try {
    return await receiveMultipart(req, opts);
  } catch (err) {
    abandonUpload(req, res, err);
    throw err;
  } finally {
    await slot.release();
  }
}

/**
 * Our sentence for a multipart body busboy cannot parse. Its own messages ("Unexpected end of form",
 * "Malformed part header", busboy lib/types/multipart.js) name its parser's states, not what the client
 * should change; anything else it raises reads as a body that could not be read.
 */
export function multipartErrorSentence(err: Error): string {
  switch (err.message) {
    case 'Unexpected end of form':
      return 'malformed multipart body: it ends before its closing boundary (the upload was cut short, or the body does not match its Content-Type)';
    case 'Malformed part header':
      return "malformed multipart body: a part's headers cannot be read (each part needs a Content-Disposition: form-data; name=\"…\" header)";
    case 'Malformed urlencoded form':
    default:
      return 'malformed multipart body: it cannot be read as multipart/form-data with the boundary its Content-Type gives';
  }
}
