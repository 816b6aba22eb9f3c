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
import { errorBody } from './errors';
import { attachListen } from './listen';
import { TokenSigner } from './tokens';
import { onScrape } from '../common/metrics';
import { apiCollectors } from './metrics-collectors';

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
  };
  const app = createApp(apiDeps);
  const stopCollectors = onScrape(
    apiCollectors({ pool: deps.pool, temporal, namespace: config.temporalNamespace, tiers: config.tiers }),
  );
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, app);
  // Uploads of hundreds of MB on slow links: no request timeout; idle sockets still close.
  server.requestTimeout = 0;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify(
      tooLarge
        ? errorBody('headers_too_large', `request headers exceed ${MAX_HEADER_BYTES} bytes`)
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
      await connection.close();
    },
  };
}
