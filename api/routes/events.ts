/**
 * `GET /v1/jobs/:id/events` (Server-Sent Events, API.md): `progress`, `segment`, then one terminal
 * event carrying the job JSON. Events are read from Postgres by id, so `Last-Event-ID` resumes without
 * loss or repeats on any replica. `POST /v1/tokens` gives browsers a short-lived `?token=`.
 */
import { Router, type Request, type Response } from 'express';
import { TERMINAL_STATUSES, type JobStatus } from '../../common/constants';
import type { ApiDeps } from '../app';
import { principalOf } from '../auth';
import { ApiError } from '../errors';
import { jobJsonOf, loadVersions, type JobRow } from '../job-json';
import { parseTokenRequest } from '../token-request';
import { ownJob } from '../own-job';
import type { TokenSigner } from '../tokens';

/** How often a stream looks for new events, and how often an idle stream sends a keep-alive comment. */
const POLL_MS = 300;
const KEEPALIVE_MS = 15_000;
const BATCH = 500;


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
    let closed = false;
    req.on('close', () => (closed = true));
    let lastWrite = Date.now();
    while (!closed) {
      const { rows } = await pool.query(
        'SELECT id, type, data FROM job_events WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3',
        [jobId, lastId, BATCH],
      );
      for (const e of rows) {
        let data = e.data && typeof e.data === 'object' ? { ...e.data, version } : e.data;
        const terminal = TERMINAL_STATUSES.includes(e.type as JobStatus);
        if (terminal) {
          const job = await pool.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [jobId]);
          data = await jobJsonOf(pool, job.rows[0]);
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
      if (Date.now() - lastWrite > KEEPALIVE_MS) {
        res.write(': keep-alive\n\n');
        lastWrite = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  });

  return r;
}
