/**
 * Idle (no-progress) timeout on request bodies: a body that sends no byte for `UPLOAD_IDLE_TIMEOUT_SECONDS`
 * is answered 408 `request_timeout` (our JSON, when the response has not started) and its connection
 * closed. Only *progress* counts, never total time: a 500 MB upload over a slow link that keeps moving
 * is never cut, while a client that stalls after 120 bytes no longer holds a socket, a blob folder and
 * an upload slot forever. The server-wide `requestTimeout` stays 0 for that reason (api/server.ts).
 *
 * Progress is the socket's `bytesRead`: Node's HTTP parser may consume the socket directly, so neither
 * `data` events on the socket nor (without switching it to flowing mode) on the request are usable.
 * A reader of the body (api/upload.ts) registers with `onBodyIdle` to fail its own way (clean up, then
 * answer); without one, this module answers the 408 itself.
 */
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../common/log';
import { errorBody, isOpenAiRoute, openAiErrorBody } from './errors';
import { bodyIdleTimeouts } from '../common/metrics';

type IdleHandler = () => void;
const handlersOf = new WeakMap<IncomingMessage, Set<IdleHandler>>();

/** The refusal's sentence (also used by api/upload.ts). */
export function idleMessage(idleMs: number): string {
  return `the request body sent nothing for ${idleMs / 1000} s; the connection is closed`;
}

/** True when the request announces a body (Content-Length > 0 or chunked). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) > 0);
}

/**
 * Registers `handler` to run (once) when `req`'s body stalls; it should fail the read with 408.
 * @returns a function that unregisters it
 */
export function onBodyIdle(req: IncomingMessage, handler: IdleHandler): () => void {
  const set = handlersOf.get(req);
  if (!set) return () => undefined;
  set.add(handler);
  return () => set.delete(handler);
}

/**
 * Express middleware watching every request body for `idleMs` without progress.
 * @param idleMs no-progress limit in milliseconds (config `uploadIdleTimeoutSeconds`)
 */
export function bodyIdleTimeout(idleMs: number, log: Logger): RequestHandler {
  const tickMs = Math.max(50, Math.min(1000, Math.floor(idleMs / 4)));
  return (req: Request, res: Response, next: NextFunction) => {
    if (!hasBody(req) || req.complete) return next();
    const socket = req.socket;
    const handlers = new Set<IdleHandler>();
    handlersOf.set(req, handlers);
    let lastBytes = socket.bytesRead;
    let lastProgress = Date.now();
    const timer = setInterval(() => {
      // Done: the whole body arrived (read or not), or the connection is gone.
      if (req.complete || socket.destroyed) return stop();
      if (socket.bytesRead !== lastBytes) {
        lastBytes = socket.bytesRead;
        lastProgress = Date.now();
        return;
      }
      if (Date.now() - lastProgress < idleMs) return;
      stop();
      bodyIdleTimeouts.inc();
      log.warn('request body idle: closing', { method: req.method, path: req.path, idleMs, bytesRead: lastBytes });
      if (handlers.size > 0) {
        for (const h of [...handlers]) h();
        // The reader answers; if it does not within a moment, the socket goes anyway.
        setTimeout(() => socket.destroy(), 2_000).unref();
        return;
      }
      answerTimeout(req, res, idleMs);
    }, tickMs);
    timer.unref();
    const stop = () => {
      clearInterval(timer);
      socket.off('close', stop);
    };
    socket.on('close', stop);
    // A keep-alive socket carries request after request: the watch ends with its response too, so the
    // socket's listeners do not pile up between ticks (Node warned at 11 under bench/admission.ts).
    res.once('close', stop);
    next();
  };
}

/** 408 in our shape (OpenAI's on its routes) and `Connection: close`; then the socket is destroyed. */
export function answerTimeout(req: Request, res: Response, idleMs: number): void {
  const destroy = () => setTimeout(() => req.socket.destroy(), 50).unref();
  if (res.headersSent) {
    req.socket.destroy();
    return;
  }
  const message = idleMessage(idleMs);
  res.setHeader('Connection', 'close');
  res.on('finish', destroy);
  res.status(408).json(isOpenAiRoute(req.path) ? openAiErrorBody(408, 'request_timeout', message) : errorBody('request_timeout', message));
}
