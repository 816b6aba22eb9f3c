/** The HTTP API as an Express app, built from its dependencies so tests run it in-process. */
import express, { type Request, type Response } from 'express';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import type { QuotaService } from '../quota/quota-service';
import type { BlobStore } from '../common/blobs';
import type { Config } from '../common/config';
import type { Logger } from '../common/log';
import { renderMetrics } from '../common/metrics';
import { authenticate } from './auth';
import { ApiError, ensureRetryAfter, errorHandler } from './errors';
import { rateLimit } from './rate-limit';
import type { TaskQueueStats } from './queue-stats';
import type { JobEventHub } from './event-hub';
import { modelsRouter } from './routes/models';
import { usageRouter } from './routes/usage';
import { openAiRouter } from './routes/openai';
import { eventsRouter } from './routes/events';
import { TokenSigner } from './tokens';
import { jobsRouter } from './routes/jobs';
import { retranscribeRouter } from './routes/retranscribe';
import { docsRouter } from './routes/docs';
import { edgeAudioRouter, edgePublicRouter } from './routes/edge';
import { listenRouter } from './listen';
import { requestLog } from './request-log';
import { bodyIdleTimeout } from './body-timeout';
import type { UploadSlots } from './upload-slots';
import { settleWithin } from '../common/deadline';

export interface ApiDeps {
  config: Config;
  pool: Pool;
  redis: Redis;
  quota: QuotaService;
  temporal: Client;
  blobs: BlobStore;
  log: Logger;
  /** model folders found in WHISPER_MODELS_DIR at start-up */
  installedModels: string[];
  queueStats: TaskQueueStats;
  /** uploads in flight per user (api/upload-slots.ts) */
  uploadSlots: UploadSlots;
  /** this replica's job-event notifications (one LISTEN connection), for the SSE streams */
  events: JobEventHub;
}

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req: Request, res: Response) => {
    // Each check answers within READY_CHECK_TIMEOUT_MS: a hung dependency reads as down, never as a hung probe.
    const checks = await Promise.all([
      reachable(() => deps.pool.query('SELECT 1')),
      reachable(() => deps.temporal.workflowService.getSystemInfo({})),
      reachable(() => deps.redis.ping()),
    ]);
    const [postgres, temporal, redis] = checks;
    const status = checks.every(Boolean) ? 200 : 503;
    // A 503 says when to look again, as every 503 of the API does (api/errors.ts ensureRetryAfter).
    ensureRetryAfter(res, status);
    res.status(status).json({ postgres, temporal, redis });
  });

  app.use(requestLog(deps.log));
  // Before anything reads a body: a body that stops moving is answered 408 and closed.
  app.use(bodyIdleTimeout(deps.config.uploadIdleTimeoutSeconds * 1000, deps.log));
  app.use(docsRouter());

  // Privacy mode's page, files and edge-result route authenticate by edge token, with their own body limit.
  app.use(edgePublicRouter(deps));

  // Public like /healthz (docs/api.md "ops"): Prometheus scrapes it without a key; the gateway keeps it internal.
  app.get('/metrics', async (_req: Request, res: Response) => {
    const { contentType, body } = await renderMetrics();
    res.type(contentType).send(body);
  });

  // JSON bodies are small control messages (tokens, edge results); uploads are multipart, streamed.
  app.use(express.json({ limit: '64kb' }));
  const tokens = new TokenSigner(deps.config.tokenSecret);
  app.use('/v1', authenticate(deps.pool, tokens), rateLimit(deps.redis, deps.config.tiers));
  app.use(eventsRouter(deps, tokens));
  app.use(jobsRouter(deps));
  app.use(retranscribeRouter(deps));
  app.use(edgeAudioRouter(deps));
  app.use(modelsRouter(deps));
  app.use(usageRouter(deps));
  app.use(openAiRouter(deps));
  app.use(listenRouter());

  app.use((req: Request) => {
    throw new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(deps.log));
  return app;
}

/** How long /readyz waits for each dependency; load balancers probe with timeouts of a few seconds. */
const READY_CHECK_TIMEOUT_MS = 2_000;

/** True when `probe` resolves within READY_CHECK_TIMEOUT_MS. */
async function reachable(probe: () => Promise<unknown>): Promise<boolean> {
  return settleWithin(probe().then(() => true, () => false), READY_CHECK_TIMEOUT_MS, () => false);
}
