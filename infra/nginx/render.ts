/**
 * Renders infra/nginx/nginx.conf.template for a deployment or a test: the listen address, the API
 * replicas and the limits. CLI: `npx tsx infra/nginx/render.ts --listen 0.0.0.0:80 --api 10.0.0.5:8080
 * --api 10.0.0.6:8080 --prefix /var/lib/fairscribe-nginx > nginx.conf`, then `nginx -p PREFIX -c nginx.conf`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_TIERS } from '../../common/tiers';

export interface GatewayOptions {
  /** `host:port` nginx listens on */
  listen: string;
  /** `host:port` of each API replica */
  apis: string[];
  /** folder for the pid file, logs and temp files (must exist) */
  prefix: string;
  workerProcesses?: number | 'auto';
  /** bytes; default: the largest tier's file limit plus 2% for the multipart framing */
  clientMaxBodyBytes?: number;
  /** nginx limit_req rate per client address, e.g. `50r/s` */
  rateLimit?: string;
  rateBurst?: number;
  maxFails?: number;
  failTimeout?: string;
  /** seconds without progress on a request body or headers (client_body_timeout, client_header_timeout): the API's UPLOAD_IDLE_TIMEOUT_SECONDS; default 60, its default */
  uploadIdleTimeoutSeconds?: number;
  /**
   * seconds nginx waits for the synchronous OpenAI routes' answer (proxy_read_timeout of /v1/audio/transcriptions
   * and /translations); default DEFAULT_SYNC_READ_TIMEOUT_S
   */
  syncReadTimeoutSeconds?: number;
}

/**
 * The sync routes' read timeout: SYNC_MAX_AUDIO_S's default (1200 s of audio, common/config.ts) processed at up to
 * real time under load (1200 s), plus the 300 s every other route waits (queueing before the first chunk runs).
 */
export const DEFAULT_SYNC_READ_TIMEOUT_S = 1200 + 300;

export const TEMPLATE = path.join(__dirname, 'nginx.conf.template');

/** common/config.ts UPLOAD_IDLE_TIMEOUT_SECONDS's default: the gateway's body and header timeouts match it. */
const DEFAULT_UPLOAD_IDLE_TIMEOUT_S = 60;

/** The largest tier's file limit plus 2 % (multipart boundaries and fields), in bytes. */
export function defaultMaxBody(): number {
  return Math.ceil(Math.max(...Object.values(DEFAULT_TIERS).map((t) => t.maxFileBytes)) * 1.02);
}

/** The nginx.conf text for these options. */
export function renderGatewayConfig(o: GatewayOptions): string {
  const maxFails = o.maxFails ?? 2;
  const failTimeout = o.failTimeout ?? '10s';
  const bytes = o.clientMaxBodyBytes ?? defaultMaxBody();
  const values: Record<string, string> = {
    listen: o.listen,
    prefix: o.prefix,
    workerProcesses: String(o.workerProcesses ?? 'auto'),
    apiServers: o.apis.map((a) => `    server ${a} max_fails=${maxFails} fail_timeout=${failTimeout};`).join('\n'),
    clientMaxBodySize: `${Math.ceil(bytes / 1000)}k`,
    clientMaxBodyBytes: String(Math.ceil(bytes / 1000) * 1000),
    rateLimit: o.rateLimit ?? '50r/s',
    rateBurst: String(o.rateBurst ?? 200),
    maxFails: String(maxFails),
    failTimeout,
    uploadIdleTimeout: String(Math.ceil(o.uploadIdleTimeoutSeconds ?? DEFAULT_UPLOAD_IDLE_TIMEOUT_S)),
    syncReadTimeout: String(Math.ceil(o.syncReadTimeoutSeconds ?? DEFAULT_SYNC_READ_TIMEOUT_S)),
  };
  return fs.readFileSync(TEMPLATE, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!(k in values)) throw new Error(`nginx template: no value for {{${k}}}`);
    return values[k];
  });
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const opts: GatewayOptions = { listen: '0.0.0.0:80', apis: [], prefix: '/var/lib/fairscribe-nginx' };
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (flag === '--listen') opts.listen = value;
    else if (flag === '--api') opts.apis.push(value);
    else if (flag === '--prefix') opts.prefix = value;
    else if (flag === '--rate') opts.rateLimit = value;
    else if (flag === '--upload-idle-timeout') opts.uploadIdleTimeoutSeconds = Number(value);
    else if (flag === '--sync-read-timeout') opts.syncReadTimeoutSeconds = Number(value);
    else {
      console.error(`unknown option ${flag}; use --listen, --api (repeat), --prefix, --rate, --upload-idle-timeout, --sync-read-timeout`);
      process.exit(2);
    }
  }
  if (opts.apis.length === 0) opts.apis.push('127.0.0.1:8080');
  process.stdout.write(renderGatewayConfig(opts));
}
