/**
 * `GET /v1/jobs/:id/events` (Server-Sent Events, docs/api.md): `progress`, `segment`, then one terminal
 * event carrying the job JSON. Events are read from Postgres by id, so `Last-Event-ID` resumes without
 * loss or repeats on any replica. `POST /v1/tokens` gives browsers a short-lived `?token=`.
 *
 * A stream does not poll: it reads its job's new rows when the replica's {@link JobEventHub} (one LISTEN
 * connection, api/event-hub.ts) says the job got an event, or after the listener reconnected. An idle stream
 * costs no query at all (it used to cost one every 300 ms).
 */
import { Router, type Request, type Response } from 'express';
import { TERMINAL_STATUSES, type JobStatus } from '../../common/constants';
import { sseStreams } from '../../common/metrics';
import { JobRepository } from '../../jobs/repository';
import type { ApiDeps } from '../app';
import { principalOf } from '../auth';
import { ApiError } from '../errors';
import { jobJsonOf, loadVersions } from '../job-json';
import { parseTokenRequest } from '../token-request';
import { ownJob } from '../own-job';
import { publicChunk } from '../chunk-numbers';
import type { TokenSigner } from '../tokens';

/** How often an idle stream sends a keep-alive comment (proxies close silent connections). */
const KEEPALIVE_MS = 15_000;
/** Rows read per query; a stream that got a full batch reads again at once. */
const BATCH = 500;

/**
 * A level-triggered wake-up flag: set by notifications, cleared by the stream before each read, so a
 * notification that lands during a read makes the stream read once more instead of being lost.
 */
class Wakeup {
  private pending = false;
  private resolve: (() => void) | undefined;
  set(): void {
    this.pending = true;
    this.resolve?.();
  }
  clear(): void {
    this.pending = false;
  }
  /** Resolves true when set (now or later), false after `ms` without a wake-up. */
  wait(ms: number): Promise<boolean> {
    if (this.pending) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.resolve = undefined;
        resolve(false);
      }, ms);
      this.resolve = () => {
        clearTimeout(timer);
        this.resolve = undefined;
        resolve(true);
      };
    });
  }
}

export function eventsRouter(deps: ApiDeps, tokens: TokenSigner): Router {
  const { pool } = deps;
  const r = Router();


  r.post('/v1/tokens', async (req: Request, res: Response) => {
    if (!req.is('application/json')) throw new ApiError(415, 'unsupported_media_type', 'send {"jobId"} or {"scope": "listen"} as JSON');
    const scope = parseTokenRequest(req.body);
    const me = principalOf(req);
    if ('jobId' in scope) await ownJob(pool, me.userId, scope.jobId);
    res.status(201).json(tokens.issue(me, scope));
  });

  r.get('/v1/jobs/:id/events', async (req: Request, res: Response) => {
    const me = principalOf(req);
    const parent = await ownJob(pool, me.userId, String(req.params.id));
    // A re-transcribed job streams its latest version's run (events are per run: one end event each).
    const versions = (await loadVersions(pool, [parent])).get(parent.id)!;
    const run = versions[versions.length - 1];
    const jobId = run.id;
    const version = run.version ?? 1;
    const multichannel = run.options?.multichannel === true || parent.options?.multichannel === true;
    let lastId = Number(req.header('last-event-id') ?? req.query.lastEventId ?? 0);
    if (!Number.isSafeInteger(lastId) || lastId < 0) throw new ApiError(400, 'invalid_request', 'Last-Event-ID must be an event id');
    // Resuming at or past the terminal event: the stream is over. 204 is what makes EventSource stop
    // reconnecting (an open stream with only keep-alives would hang the client forever).
    const ended = await pool.query(
      'SELECT 1 FROM job_events WHERE job_id = $1 AND id <= $2 AND type = ANY($3::text[]) LIMIT 1',
      [jobId, lastId, TERMINAL_STATUSES],
    );
    if (ended.rowCount) {
      res.status(204).end();
      return;
    }

    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no', // nginx: pass events through unbuffered
    });
    res.write('retry: 2000\n\n');
    const wakeup = new Wakeup();
    let closed = false;
    req.on('close', () => {
      closed = true;
      wakeup.set();
    });
    // Subscribe before the first read: an event committed between the read and the wait still wakes us.
    const unsubscribe = deps.events.subscribe(jobId, (eventId) => {
      if (eventId === undefined || eventId > lastId) wakeup.set();
    });
    sseStreams.inc();
    try {
      let lastWrite = Date.now();
      let read = true; // the first pass reads whatever is there already
      while (!closed) {
        if (read) {
          wakeup.clear();
          const { rows } = await pool.query(
            'SELECT id, type, data FROM job_events WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3',
            [jobId, lastId, BATCH],
          );
          for (const e of rows) {
            let data = e.data && typeof e.data === 'object' ? { ...e.data, version } : e.data;
            if (multichannel && e.type === 'segment' && data && typeof data === 'object') {
              // A multichannel job numbers channel c's chunk i as c × 100000 + i internally
              // (activities/channels.ts); the event shows {chunk: i, channel: c} (api/chunk-numbers.ts).
              data = publicChunk(data, true);
            }
            const terminal = TERMINAL_STATUSES.includes(e.type as JobStatus);
            if (terminal) {
              data = await jobJsonOf(pool, (await new JobRepository(pool).get(jobId))!);
            }
            res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`);
            lastId = Number(e.id);
            lastWrite = Date.now();
            if (terminal) {
              res.end();
              return;
            }
          }
          if (rows.length === BATCH) continue;
        }
        // Sleep until a notification (or a listener reconnect) says there may be more, sending a keep-alive
        // comment when the stream has been silent for KEEPALIVE_MS; the keep-alive itself reads nothing.
        read = await wakeup.wait(Math.max(0, KEEPALIVE_MS - (Date.now() - lastWrite)));
        if (!read && !closed) {
          res.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
      }
    } finally {
      unsubscribe();
      sseStreams.dec();
    }
  });

  return r;
}
