/**
 * `GET /v1/listen`: live transcription over WebSocket (library `ws`); the protocol is in README "Live transcription (WebSocket)" and docs/api.md `GET /v1/listen`.
 *
 * Client: `{"type":"start", "model"?, "language"?, "sampleRate", "encoding": "pcm_s16le"|"f32"}`, binary
 * frames of mono samples, `{"type":"stop"}`. Server: `partial {text}` (the growing utterance re-decoded
 * at most about once a second), `final {text, start, end}` per utterance (at a pause, or at 25 s),
 * `done {jobId, text, audioSeconds}`, `error {code, message, jobId?}` followed by a close (jobId once the stream's
 * job exists).
 *
 * Each stream is a job (mode cloud, priorityClass live) with a reservation that grows in steps of
 * LIVE_RESERVE_STEP_S while it streams (up to the tier's longest audio, within the day's quota); the
 * stream is closed with `quota_exceeded` when no further step can be reserved. Inference goes through Temporal: one `liveTranscriptionWorkflow`
 * per stream (priority `live`); the API writes each window's samples to the blob store and asks the
 * workflow, by Update, to decode it on the inference queue; the text comes back through Postgres.
 *
 * Bounds per connection: one message ≤ MAX_FRAME_BYTES (ws's maxPayload: ws refuses a larger one from its
 * header, before buffering it; {@link ListenSocket} lets us send `frame_too_large` before ws's 1009); the segmenter holds ≤ 25 s of 16 kHz float32
 * (1.6 MB); at most MAX_PENDING_DECODES windows wait for inference (else `too_fast`); a client that
 * does not read our messages (send buffer over MAX_BUFFERED_BYTES) is cut off with `slow_client`, and
 * one that sends nothing for the idle timeout with `idle_timeout`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { Router, type Request } from 'express';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Principal } from '../common/keys';
import { resolveCaller } from './auth';
import { admitLive, extendLive } from '../jobs/admission';
import { JobRepository } from '../jobs/repository';
import { JobRefusal, type Refusal, type RefusalCode } from '../jobs/refusal';
import { decodeWindowUpdate, finishSignal, type liveTranscriptionWorkflow } from '../workflows/live';
import type { ApiDeps } from './app';
import { ApiError, errorBody } from './errors';
import { describeZodError, liveStartMessage, liveStopMessage, validate } from './schemas';
import { frameToFloat32, Resampler, UtteranceSegmenter, type DecodeRequest, type LiveEncoding } from './live-audio';
import { VadThread, type VadStream } from '../audio/vad-client';
import type { TokenSigner } from './tokens';
import { SAMPLE_RATE } from '../engine/constants';

export const LISTEN_PATH = '/v1/listen';
/**
 * One message (a binary frame of audio, or a text control message), bytes: 64 KiB is 2 s of 16 kHz s16le,
 * far more than any client sends at once. It is ws's `maxPayload`, so a larger message is refused from its
 * header and never buffered (ListenSocket answers it with `frame_too_large`).
 */
export const MAX_FRAME_BYTES = 64 * 1024;
const MAX_PENDING_DECODES = 3;
/** The reservation step of a stream, seconds (jobs/admission.ts). */
export { LIVE_RESERVE_STEP_S } from '../jobs/admission';
/** How long a stream whose window was refused waits for its workflow's end before closing. */
const CANCEL_SETTLE_MS = 15_000;
const MAX_BUFFERED_BYTES = 256 * 1024;
/** Close codes (RFC 6455): 1000 normal, 1003 unsupported data, 1008 policy violation, 1011 server error, 1013 try again later. */
const CLOSE = { normal: 1000, unsupported: 1003, policy: 1008, tooBig: 1009, internal: 1011, tryLater: 1013 } as const;

export interface ListenOptions {
  startTimeoutMs: number;
  idleTimeoutMs: number;
}

/** Plain HTTP GET on the WebSocket route (after auth): 426, saying how to connect. */
export function listenRouter(): Router {
  const r = Router();
  r.get(LISTEN_PATH, (_req: Request) => {
    throw new ApiError(426, 'upgrade_required', 'GET /v1/listen is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)');
  });
  return r;
}

/** A plain-HTTP refusal of an upgrade, in our error shape. */
function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify(errorBody(code, message));
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 500: 'Internal Server Error' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * The caller of an upgrade request: `Authorization: Bearer <apiKey>`, or `?token=` scoped to listen; else the
 * 401's sentence, the HTTP routes' own (api/auth.ts) for each case: a caller who sent an expired token is not
 * told to send one.
 */
function authenticateUpgrade(deps: ApiDeps, tokens: TokenSigner, req: http.IncomingMessage, url: URL): Promise<Principal | string> {
  // an empty ?token= counts as none sent, as it always has here
  const token = url.searchParams.get('token') || undefined;
  const missing = 'send "Authorization: Bearer <apiKey>" or ?token= from POST /v1/tokens {"scope":"listen"}';
  return resolveCaller(deps.pool, tokens, req.headers.authorization, token, 'listen', missing);
}

/**
 * Serves WebSocket upgrades on `server` for /v1/listen; other upgrade paths answer 404.
 * @returns a function that closes every live connection (server shutdown)
 */
export function attachListen(server: http.Server, deps: ApiDeps, tokens: TokenSigner, opts: ListenOptions): () => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, WebSocket: ListenSocket });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== LISTEN_PATH) return refuseUpgrade(socket, 404, 'not_found', `no WebSocket route ${url.pathname}`);
    authenticateUpgrade(deps, tokens, req, url).then(
      (me) => {
        if (typeof me === 'string') return refuseUpgrade(socket, 401, 'unauthorized', me);
        wss.handleUpgrade(req, socket, head, (ws) => new LiveSession(ws as ListenSocket, me, deps, opts).begin());
      },
      (err) => {
        deps.log.error('listen upgrade failed', { err: String(err) });
        refuseUpgrade(socket, 500, 'internal', 'internal error');
      },
    );
  });
  return () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  };
}

/**
 * The WebSocket class of /v1/listen connections (ws's documented `WebSocket` server option: a class that
 * extends ws's own). ws enforces `maxPayload` itself: it reads a message's length from the frame header and,
 * over the limit, calls `close(1009)` with no reason and only then emits 'error' (ws 8 lib/receiver.js
 * haveLength → lib/websocket.js receiverOnError), so a listener of 'error' is too late to say anything, and
 * the close cannot be avoided (websockets/ws#2224). This override hears that call first and lets the session
 * send its `error {code: "frame_too_large", message}` before the close frame goes out.
 *
 * ws's refusal is told apart by its shape: code 1009, no reason, socket still open. Our own closes always
 * give a reason, and ws's echo of a client's close frame passes the client's reason (a Buffer).
 */
export class ListenSocket extends WebSocket {
  /** Called once, synchronously, when ws refuses a message over maxPayload; it sends the error and closes. */
  onTooLarge: (() => void) | null = null;

  override close(code?: number, data?: string | Buffer): void {
    const answer = this.onTooLarge;
    if (answer && code === CLOSE.tooBig && data === undefined && this.readyState === WebSocket.OPEN) {
      this.onTooLarge = null;
      answer(); // closes through this method again, with a reason
      if (this.readyState !== WebSocket.OPEN) return;
    }
    super.close(code, data);
  }
}

export class SessionError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly closeCode: number = CLOSE.policy,
    readonly details: Record<string, unknown> = {},
    /** the client broke the protocol: its job ends `failed` with this error (others end `completed`) */
    readonly protocol = false,
  ) {
    super(message);
  }
}

/** Close codes of admission refusals: worth retrying later, or a policy the client must change. */
const RETRY_LATER: ReadonlySet<RefusalCode> = new Set(['no_capacity', 'quota_unavailable', 'unavailable']);

/**
 * An admission refusal as the stream's `error` frame and close code. A refusal that says when trying again may
 * help carries it as `retryAfterSeconds`: a WebSocket has no Retry-After header, and the same refusal over HTTP
 * (429/503) sends one with the same value.
 */
export function refusalToSession(r: Refusal): SessionError {
  // A live `concurrency_limit` names no reset time (a slot frees when a job ends), as before.
  const { resetAt, ...rest } = r.details;
  const details = {
    ...(resetAt === null ? rest : r.details),
    ...(r.retryAfterSeconds !== undefined ? { retryAfterSeconds: r.retryAfterSeconds } : {}),
  };
  return new SessionError(r.code, r.message, RETRY_LATER.has(r.code) ? CLOSE.tryLater : CLOSE.policy, details);
}

/** A protocol violation by the client (bad frame, unexpected message): ends the job `failed`. */
const protocolError = (code: string, message: string, closeCode: number = CLOSE.unsupported) =>
  new SessionError(code, message, closeCode, {}, true);

/** One WebSocket stream, from `start` to `done` (or `error`). */
class LiveSession {
  private state: 'awaiting_start' | 'streaming' | 'ending' | 'closed' = 'awaiting_start';
  /** messages are handled one at a time, in order (start is asynchronous) */
  private inbox: Promise<void> = Promise.resolve();
  /** decodes run one at a time, in order */
  private decodes: Promise<void> = Promise.resolve();
  private pendingDecodes = 0;
  private timer: NodeJS.Timeout | null = null;
  private jobId: string | null = null;
  private handle: WorkflowHandle<typeof liveTranscriptionWorkflow> | null = null;
  private encoding: LiveEncoding = 'pcm_s16le';
  private resampler: Resampler | null = null;
  private readonly segmenter = new UtteranceSegmenter();
  /** Silero VAD over the stream, on the process's VAD thread (audio/vad-client.ts): it ends utterances */
  private vad: VadStream | null = null;
  /** seconds reserved so far (grows by LIVE_RESERVE_STEP_S as the stream goes on) */
  private reservedSeconds = 0;
  /** the most the stream may last: the tier's longest audio */
  private maxSeconds = 0;
  private seq = 0;
  /** final windows that gave text: none means nothing was transcribed, so nothing is billed */
  private finalsTranscribed = 0;
  private readonly log;

  constructor(
    private readonly ws: ListenSocket,
    private readonly me: Principal,
    private readonly deps: ApiDeps,
    private readonly opts: ListenOptions,
  ) {
    this.log = deps.log.child({ component: 'listen', userId: me.userId });
  }

  begin(): void {
    this.ws.onTooLarge = () => this.tooLarge();
    this.arm(this.opts.startTimeoutMs, 'start_timeout', `no {"type":"start"} message within ${this.opts.startTimeoutMs / 1000} s`);
    this.ws.on('message', (data: RawData, isBinary: boolean) => {
      // The start message stops the start timer now, not when its (asynchronous) admission is done.
      if (this.state === 'awaiting_start') this.clearTimer();
      this.inbox = this.inbox.then(() => this.onMessage(data, isBinary)).catch((err) => this.fail(err));
    });
    this.ws.on('close', () => {
      this.clearTimer();
      // The client went away without `stop`: its last utterance is still decoded, and the job completes
      // with the whole transcript. Queued behind the inbox, so a stream whose start was still being
      // admitted is ended too.
      this.inbox = this.inbox
        .then(() => (this.state === 'streaming' ? this.end('disconnect') : undefined))
        .catch((err) => this.log.error('live session end failed', { jobId: this.jobId, err: String(err) }))
        .finally(() => {
          this.releaseVad();
          this.state = 'closed';
        });
    });
    this.ws.on('error', () => undefined);
  }

  /** (Re)starts the one timer: the start timeout before `start`, the idle timeout after. */
  private arm(ms: number, code: string, message: string): void {
    this.clearTimer();
    const during = this.state;
    this.timer = setTimeout(() => {
      // Only if nothing happened meanwhile (a message already in the inbox moves the state on or re-arms).
      this.inbox = this.inbox.then(() => (this.state === during ? this.fail(new SessionError(code, message)) : undefined));
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async onMessage(data: RawData, isBinary: boolean): Promise<void> {
    if (this.state === 'ending' || this.state === 'closed') return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (this.state === 'awaiting_start') {
      if (isBinary) throw new SessionError('invalid_request', 'send {"type":"start", "sampleRate", "encoding"} before any audio', CLOSE.policy);
      const json = parseJson(bytes);
      if (json === undefined) {
        throw new SessionError(
          'invalid_request',
          'the first message must be a JSON start message such as {"type":"start", "sampleRate":16000, "encoding":"pcm_s16le"}; it was not JSON',
          CLOSE.policy,
        );
      }
      const parsed = validate(liveStartMessage, json);
      if (!parsed.success) throw new SessionError('invalid_request', `bad start message: ${describeZodError(parsed.error, 'the message')}`, CLOSE.policy);
      await this.start(parsed.data);
      return;
    }
    this.arm(this.opts.idleTimeoutMs, 'idle_timeout', `no audio or stop for ${this.opts.idleTimeoutMs / 1000} s`);
    if (!isBinary) {
      const json = parseJson(bytes);
      if (!liveStopMessage.safeParse(json).success) {
        const again = (json as { type?: unknown } | undefined)?.type === 'start';
        throw protocolError(
          'invalid_request',
          again ? 'the stream has already started: send binary audio frames or {"type":"stop"}' : 'expected binary audio frames or {"type":"stop"}',
        );
      }
      await this.end('stop');
      return;
    }
    let samples: Float32Array;
    try {
      samples = this.resampler!.push(frameToFloat32(bytes, this.encoding));
    } catch (err) {
      throw protocolError('invalid_request', (err as Error).message);
    }
    const needed = (this.segmenter.total + samples.length) / SAMPLE_RATE;
    if (needed > this.reservedSeconds && !(await this.extendReservation(needed))) {
      throw new SessionError('quota_exceeded', `the stream reached ${this.reservedSeconds} s, all it may last (your remaining daily quota, or your tier’s longest audio)`, CLOSE.policy, {
        limit: this.reservedSeconds,
      });
    }
    // The VAD runs on its own thread; awaiting it here keeps frames in order (the inbox is sequential).
    const probs = await this.vad!.push(samples);
    for (const req of this.segmenter.push(samples, probs)) {
      // A partial is only worth running when nothing else waits: it would be stale by its turn.
      if (req.kind === 'partial' && this.pendingDecodes > 0) continue;
      this.enqueue(req);
    }
    if (this.pendingDecodes > MAX_PENDING_DECODES) {
      throw new SessionError('too_fast', 'audio arrives faster than it can be transcribed; send it in real time', CLOSE.tryLater);
    }
  }

  /** Admits the stream as a job (jobs/admission.ts admitLive); a refusal ends the stream with its code. */
  private async start(msg: { model?: string; language?: string; sampleRate: number; encoding: LiveEncoding; wordTimestamps?: boolean }): Promise<void> {
    const admission = await admitLive(this.deps, this.me, { jobId: crypto.randomUUID(), ...msg });
    if (!admission.ok) throw refusalToSession(admission.refusal);
    const live = admission.job;
    this.handle = live.handle;
    this.jobId = live.jobId;
    this.reservedSeconds = live.reservedSeconds;
    this.maxSeconds = live.maxSeconds;
    this.encoding = msg.encoding;
    this.resampler = new Resampler(msg.sampleRate);
    // Quiet input raised for the VAD only, causally (audio/vad-gain.ts VadRunningLevel): a file's 30 s window would
    // hold every final back; the segmenter and Whisper get the samples as sent.
    this.vad = VadThread.shared().open({ levelled: 'running' });
    this.state = 'streaming';
    this.clearTimer();
    this.arm(this.opts.idleTimeoutMs, 'idle_timeout', `no audio or stop for ${this.opts.idleTimeoutMs / 1000} s`);
  }

  /**
   * Raises the stream's reservation by a step, or by what is left today (jobs/admission.ts extendLive).
   * @returns false when `needed` seconds cannot be reserved (tier's longest audio or day used up)
   */
  private async extendReservation(needed: number): Promise<boolean> {
    let total: number | null;
    try {
      total = await extendLive(this.deps, this.me, { jobId: this.jobId!, reservedSeconds: this.reservedSeconds, maxSeconds: this.maxSeconds, needed });
    } catch (err) {
      if (err instanceof JobRefusal) throw refusalToSession(err.refusal);
      throw err;
    }
    if (total === null) return false;
    this.reservedSeconds = total;
    return true;
  }

  private enqueue(req: DecodeRequest): void {
    this.pendingDecodes++;
    this.decodes = this.decodes
      .then(() => this.decode(req))
      .catch((err) => {
        this.log.warn('live window failed', { jobId: this.jobId, err: String((err as Error).message ?? err) });
        // The job was cancelled (POST /v1/jobs/:id/cancel, DELETE) or its workflow is gone: stop streaming.
        if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) {
          // Close once the workflow has recorded the cancel (bounded: an update can fail on its own too),
          // so a client that then reads the job finds it `cancelled`, its quota released.
          this.inbox = this.inbox
            .then(() => Promise.race([this.handle!.result().catch(() => undefined), sleep(CANCEL_SETTLE_MS)]))
            .then(() => this.fail(new SessionError('cancelled', 'the job of this stream was cancelled', CLOSE.normal)));
        }
      })
      .finally(() => this.pendingDecodes--);
  }

  /** Runs one window through the workflow and sends its result (partials only while streaming). */
  private async decode(req: DecodeRequest): Promise<void> {
    if (this.state === 'closed' || (req.kind === 'partial' && this.state !== 'streaming')) return;
    const jobId = this.jobId!;
    const seq = this.seq++;
    const windowKey = `${jobId}/live-${seq}.f32`;
    const file = this.deps.blobs.prepare(windowKey);
    await fs.promises.writeFile(file, Buffer.from(req.samples.buffer, req.samples.byteOffset, req.samples.byteLength));
    const t0 = Date.now();
    try {
      // Visible to the inference worker on another machine (S3) before it is asked to decode it.
      await this.deps.blobs.commit(windowKey);
      await this.handle!.executeUpdate(decodeWindowUpdate, {
        args: [{ seq, kind: req.kind, windowKey, utterance: req.utterance, start: req.start, end: req.end }],
      });
    } finally {
      await fs.promises.rm(file, { force: true });
    }
    const { rows } = await this.deps.pool.query('SELECT text, segments, language, inference_ms FROM live_results WHERE job_id = $1 AND seq = $2', [jobId, seq]);
    this.log.debug('live window decoded', { jobId, kind: req.kind, seconds: round2(req.end - req.start), ms: Date.now() - t0, inferenceMs: rows[0]?.inference_ms });
    const text: string = rows[0]?.text ?? '';
    if (!text) return;
    if (req.kind === 'final') this.finalsTranscribed++;
    if (req.kind === 'partial') {
      if (this.state === 'streaming') this.send({ type: 'partial', text });
      return;
    }
    const segs: { start: number; end: number; words?: { word: string; start: number; end: number; probability: number }[] }[] = rows[0].segments;
    const start = round2(req.start + (segs[0]?.start ?? 0));
    const end = round2(Math.min(req.end, req.start + (segs[segs.length - 1]?.end ?? req.end - req.start)));
    // Final windows of a stream started with wordTimestamps store their words (activities/live.ts).
    const words = segs.some((s) => s.words)
      ? segs
          .flatMap((s) => s.words ?? [])
          .map((w) => {
            const ws = Math.min(Math.max(round2(req.start + w.start), start), end);
            return { word: w.word, start: ws, end: Math.min(Math.max(round2(req.start + w.end), ws), end), probability: w.probability };
          })
      : undefined;
    // The window's language (the stream's, or the one the engine detected on this utterance).
    const language: string | null = rows[0].language ?? null;
    this.send({ type: 'final', text, start, end, ...(language ? { language } : {}), ...(words ? { words } : {}) });
  }

  /**
   * Ends the stream. `stop`: the last utterance is decoded, the workflow told to settle and merge,
   * `done` sent and the socket closed. `disconnect` (the client went away) and an `error` that is not
   * the client's fault (quota, idle, too fast): the same, without `done` (the socket is gone or closing).
   * A protocol error: the job ends `failed` with it, billed nothing. A cancelled job: nothing to finish.
   * Billed = the streamed seconds once any of it was transcribed (a stream with no text bills nothing).
   */
  private async end(how: 'stop' | 'disconnect' | 'error', error?: SessionError): Promise<void> {
    if (!this.jobId || this.state === 'closed') return;
    const graceful = how === 'stop';
    this.state = 'ending';
    this.clearTimer();
    const failed = error?.protocol ? { code: error.code, message: error.message } : undefined;
    this.releaseVad();
    if (!failed && error?.code !== 'cancelled') {
      const last = this.segmenter.flush();
      if (last) this.enqueue(last);
    }
    await this.decodes;
    const audioSeconds = round2(this.segmenter.total / SAMPLE_RATE);
    const billedSeconds = this.finalsTranscribed > 0 ? Math.ceil(audioSeconds) : 0;
    try {
      try {
        await this.handle!.signal(finishSignal, { audioSeconds, billedSeconds, ...(failed ? { error: failed } : {}) });
        await this.handle!.result().catch((err) => {
          // A protocol error's workflow closes Completed (workflows/live.ts); a worker on the code before
          // LIVE_CLIENT_ERROR_COMPLETES_PATCH still fails it on purpose.
          if (!failed) throw err;
        });
      } catch (err) {
        // A cancelled job's workflow has already ended (and released the reservation): nothing to finish.
        if (!graceful) return;
        throw err;
      }
      if (graceful) {
        const job = await new JobRepository(this.deps.pool).get(this.jobId!);
        this.send({ type: 'done', jobId: this.jobId, text: job?.text ?? '', audioSeconds });
        this.close(CLOSE.normal, 'done');
      }
    } finally {
      // The windows' texts were only the way results came back; the job's transcript is the record.
      await this.deps.pool.query('DELETE FROM live_results WHERE job_id = $1', [this.jobId]);
    }
  }

  /**
   * ws refused a message over MAX_FRAME_BYTES (ListenSocket, while ws is closing with 1009): the error goes
   * out now, before ws's close frame, and the job ends in turn behind the messages already received, as for
   * any protocol error (failed with `frame_too_large`, billed nothing).
   */
  private tooLarge(): void {
    const e = protocolError(
      'frame_too_large',
      `a message may be at most ${MAX_FRAME_BYTES} bytes (64 KiB); send audio in smaller frames, e.g. 100 ms each (3200 bytes of 16 kHz pcm_s16le)`,
      CLOSE.tooBig,
    );
    this.announce(e);
    this.inbox = this.inbox.then(() => this.fail(e, true)).catch((err) => this.log.error('live session end failed', { jobId: this.jobId, err: String(err) }));
  }

  /** Whether the stream started and has its job (an error then names it, and the job ends with what was streamed). */
  private get streamHasJob(): boolean {
    return this.jobId !== null && this.state === 'streaming';
  }

  /**
   * Sends `error {code, message, …details, jobId?}` and closes with the error's close code (reason: the code).
   * A stream that had started names its job: what was streamed before the error is transcribed and billed there
   * (GET /v1/jobs/:id), and the client has no other handle on it (`done` never comes).
   */
  private announce(e: SessionError): void {
    const hadJob = this.streamHasJob;
    this.send({ type: 'error', code: e.code, message: e.message, ...e.details, ...(hadJob ? { jobId: this.jobId } : {}) });
    this.close(e.closeCode, e.code);
  }

  /**
   * Sends `error {code, message}` and closes (unless `announced` already), then records the job with what
   * was streamed.
   */
  private async fail(err: unknown, announced = false): Promise<void> {
    if (this.state === 'closed') return;
    const e =
      err instanceof SessionError ? err : new SessionError('internal', 'internal error', CLOSE.internal);
    if (!(err instanceof SessionError)) this.log.error('live session failed', { jobId: this.jobId, err: String((err as Error)?.stack ?? err) });
    const hadJob = this.streamHasJob;
    if (!announced) this.announce(e);
    if (hadJob) {
      await this.end('error', e).catch((x) => this.log.error('live session end failed', { jobId: this.jobId, err: String(x) }));
    }
    this.state = 'closed';
  }

  private send(msg: Record<string, unknown>): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify(msg));
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      // The client does not read: stop now rather than buffer its transcript without bound.
      this.inbox = this.inbox.then(() => this.fail(new SessionError('slow_client', 'the client is not reading the results fast enough')));
      this.ws.terminate();
    }
  }

  /** Ends the stream's VAD state on the thread (once; its last partial frame is not needed). */
  private releaseVad(): void {
    const vad = this.vad;
    this.vad = null;
    vad?.finish().catch(() => undefined);
  }

  private close(code: number, reason: string): void {
    this.clearTimer();
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(code, reason);
  }
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
