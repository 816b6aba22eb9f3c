/** Starting the HTTP API: one function for the entry point, the dev stack and the tests. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { Deps } from '../common/deps';
import { createBlobStore } from '../common/blobs';
import type { Config } from '../common/config';
import { createLogger } from '../common/log';
import { installedModels } from '../workers/factory';
import { createApp } from './app';
import { TaskQueueStats } from './queue-stats';
import { JobEventHub } from './event-hub';
import { errorBody } from './errors';
import { attachListen } from './listen';
import { TokenSigner } from './tokens';
import { onScrape } from '../common/metrics';
import { apiCollectors } from './metrics-collectors';
import { UploadSlots } from './upload-slots';

export interface ApiServer {
  url: string;
  server: http.Server;
  temporal: Client;
  close(): Promise<void>;
}

/** Larger request headers answer 431 (Node's default limit is 16 KiB). */
const MAX_HEADER_BYTES = 16 * 1024;

export async function startApi(config: Config, deps: Deps): Promise<ApiServer> {
  const log = createLogger({ component: 'api' });
  const connection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const events = new JobEventHub(config.databaseUrl, log);
  await events.start();
  const apiDeps = {
    config,
    pool: deps.pool,
    redis: deps.redis,
    quota: deps.quota,
    temporal,
    blobs: createBlobStore(config.blobStore),
    log,
    installedModels: installedModels(config.modelsDir),
    queueStats: new TaskQueueStats(temporal, config.temporalNamespace),
    uploadSlots: new UploadSlots(deps.redis, config.uploadIdleTimeoutSeconds * 1000),
    events,
  };
  const app = createApp(apiDeps);
  const stopCollectors = onScrape(
    apiCollectors({ pool: deps.pool, temporal, namespace: config.temporalNamespace, tiers: config.tiers }),
  );
  const idleMs = config.uploadIdleTimeoutSeconds * 1000;
  const server = http.createServer(
    // Node checks header and request deadlines on this interval: a few checks per deadline, so a
    // client whose headers never finish hears 408 within about 1.25 × the timeout (Node's default
    // interval, 30 s, made it 75 s).
    { maxHeaderSize: MAX_HEADER_BYTES, connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(idleMs / 4))) },
    app,
  );
  // Uploads of hundreds of MB on slow links: no limit on a request's total time. Bodies that stop
  // moving are cut by the idle timeout instead (api/body-timeout.ts), and headers must arrive within
  // the same time (Node's default, 60 s, is UPLOAD_IDLE_TIMEOUT_SECONDS's default too).
  server.requestTimeout = 0;
  server.headersTimeout = idleMs;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT';
    const status = tooLarge ? 431 : timedOut ? 408 : 400;
    const body = JSON.stringify(
      tooLarge
        ? errorBody('headers_too_large', `request headers exceed ${MAX_HEADER_BYTES} bytes`)
        : timedOut
          ? errorBody('request_timeout', `the request headers did not arrive within ${idleMs / 1000} s`)
          : errorBody('invalid_request', 'malformed HTTP request'),
    );
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  const closeListen = attachListen(server, apiDeps, new TokenSigner(config.tokenSecret), {
    startTimeoutMs: config.liveStartTimeoutSeconds * 1000,
    idleTimeoutMs: config.liveIdleTimeoutSeconds * 1000,
  });
  await new Promise<void>((resolve) => server.listen(config.apiPort, config.apiHost, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.apiHost}:${port}`,
    server,
    temporal,
    async close() {
      closeListen();
      stopCollectors();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await events.close();
      await connection.close();
    },
  };
}
