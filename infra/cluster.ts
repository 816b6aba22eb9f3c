/**
 * The production-shaped local deployment: every piece its own OS process on loopback, sharing only Temporal,
 * Postgres, Redis and S3, as in the Helm chart (infra/k8s):
 *
 * - PostgreSQL (fairscribe's database, and Temporal's `temporal` + `temporal_visibility` databases), Redis,
 *   versitygw as S3 (infra/versitygw.sh);
 * - the Temporal server itself, not the dev server: fairscribe-temporal (infra/temporal-server/main.go, Server
 *   1.29.1, all services in one process) on PostgreSQL for persistence and SQL visibility, its schema set up by
 *   Temporal's SQL tool of the same module version, the dynamic config of infra/k8s/temporal-values.yaml, and
 *   Temporal's Web UI (ui-server v2.42.1) as its own process;
 * - two API replicas behind the nginx gateway (infra/nginx), the orchestration worker, two CPU inference
 *   workers and one spot-labelled worker (gpu-spot queue, CPU execution provider: no GPU here).
 *
 * `npm run cluster` runs it in the foreground (data under .data/cluster, the usual ports, the gateway on 8080)
 * and writes .data/stack.json exactly as `npm start` does (apiUrl = the gateway), so the CLI tools and checks
 * work against it unchanged. Ctrl-C stops everything. `npm run test:cluster` starts its own on free ports
 * (test/cluster/). Every process writes `<root>/logs/<name>.log`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Client as PgClient, Pool } from 'pg';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal as proto } from '@temporalio/proto';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../common/config';
import { migrate } from '../common/db';
import { createLogger } from '../common/log';
import { STACK_FILE, writeStackFile } from '../api/cli/stack-file';
import { renderGatewayConfig } from './nginx/render';
import { ensureDevUser } from './dev-user';
import { stopOnSignals } from './foreground';
import {
  DEFAULT_PORTS,
  SEARCH_ATTRIBUTES,
  freePorts,
  launch,
  runToCompletion,
  startPostgres,
  startRedis,
  waitUntilReady,
  type PgHandle,
  type RedisHandle,
  type Supervised,
} from './services';

const LOOPBACK = '127.0.0.1';
const NAMESPACE = 'default';
/** As infra/k8s/temporal-values.yaml `namespaces.namespace[].retention`. */
const NAMESPACE_RETENTION_MS = 3 * 24 * 3600 * 1000;
/**
 * History shards of the local server. The chart's 512 size a 10,000-job cluster; on 2 shared cores each shard is
 * a set of goroutines and timers for nothing, and the shard count only spreads load, it does not change
 * scheduling (matching and fairness live in task queues). Fixed for a database's lifetime, like the chart's.
 */
const NUM_HISTORY_SHARDS = 4;
/** Temporal's connection pools per store (the chart: 20). Postgres gets max_connections for everyone. */
const TEMPORAL_MAX_CONNS = 10;
const PG_MAX_CONNECTIONS = '300';
/** Dynamic config is read from its file at start and re-read this often (the server's minimum is 5 s). */
const DYNAMIC_CONFIG_POLL = '10s';
const TEMPORAL_READY_MS = 120_000;
const NODE_READY_MS = 180_000;
const S3_BUCKET = 'fairscribe';
const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
/** Inference threads per CPU worker process: three inference processes share the machine's cores. */
const WORKER_THREADS = 1;

/** Usual ports for `npm run cluster` (as `npm start`; the gateway takes the API's 8080). */
export const CLUSTER_DEFAULT_PORTS = {
  postgres: DEFAULT_PORTS.postgres,
  redis: DEFAULT_PORTS.redis,
  temporal: DEFAULT_PORTS.temporal,
  temporalUi: DEFAULT_PORTS.temporalUi,
  gateway: 8080,
  api0: 8081,
  api1: 8082,
  s3: 7070,
} as const;
type PortName = keyof typeof CLUSTER_DEFAULT_PORTS;

export interface ClusterOptions {
  /** Data and logs: `<root>/postgres`, `<root>/s3`, `<root>/temporal`, `<root>/logs`. */
  root: string;
  /** Fixed ports (the dev cluster), or free ones picked at start (tests). */
  ports: 'default' | 'free';
  /** Task-queue partitions: 1 as the chart configures our queues, or 4 (Temporal's default). Default 1. */
  partitions?: 1 | 4;
  /**
   * With partitions 1: pin every task queue to one partition, not only the chart's five (the scheduling tests'
   * rigs use queues of their own, as the dev server's global setting gives them).
   */
  pinAllQueues?: boolean;
  /** Delete the data under root first. */
  fresh?: boolean;
  /** Postgres without fsync (tests). */
  fast?: boolean;
  /** Where Node processes find models; default the config default (../shared/models). */
  modelsDir?: string;
  /** Extra env for every Node process. */
  env?: Record<string, string>;
}

/** A process of the cluster that can be killed and started again (chaos tests). */
export interface ClusterProcess {
  name: string;
  pid(): number | undefined;
  running(): boolean;
  /** Starts it (again) and waits until it is ready. */
  start(): Promise<void>;
  /** Graceful stop (its stop signal, then SIGKILL after the grace period). */
  stop(): Promise<void>;
  /** SIGKILL now. */
  kill(): Promise<void>;
  logFile: string;
}

export interface Cluster {
  root: string;
  pg: PgHandle;
  redis: RedisHandle;
  /** fairscribe's database */
  databaseUrl: string;
  redisUrl: string;
  temporalAddress: string;
  uiUrl: string;
  /** the gateway: what clients use */
  apiUrl: string;
  devApiKey: string;
  /** The env every fairscribe process of the cluster runs with (for more processes, or scripts). */
  env: Record<string, string>;
  s3: { endpoint: string; bucket: string; bucketDir: string };
  temporal: ClusterProcess;
  ui: ClusterProcess;
  s3Server: ClusterProcess;
  gateway: ClusterProcess;
  apis: ClusterProcess[];
  orchestration: ClusterProcess;
  cpuWorkers: ClusterProcess[];
  spotWorker: ClusterProcess;
  /** Starts another inference worker process of the cluster (kept in the stop list). */
  addWorker(name: string, entry: string, env?: Record<string, string>): Promise<ClusterProcess>;
  /** name → pid of every running process, Postgres and Redis included. */
  pids(): Record<string, number>;
  /** Stops Postgres (fast shutdown: every connection is cut), keeps it down `downMs`, starts it again. */
  restartPostgres(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

// --- processes -------------------------------------------------------------------------------------------------

interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stopSignal: NodeJS.Signals;
  graceMs: number;
  readyMs: number;
  /** resolves true once the process is ready */
  probe: (svc: Supervised) => Promise<boolean>;
}

function supervised(spec: ProcessSpec, logDir: string): ClusterProcess {
  let svc: Supervised | undefined;
  const logFile = path.join(logDir, `${spec.name}.log`);
  return {
    name: spec.name,
    logFile,
    pid: () => (svc && !svc.hasExited() ? svc.child.pid : undefined),
    running: () => !!svc && !svc.hasExited(),
    async start() {
      if (svc && !svc.hasExited()) return;
      svc = launch(spec.name, spec.command, spec.args, {
        logDir,
        cwd: spec.cwd,
        env: spec.env,
        stopSignal: spec.stopSignal,
        graceMs: spec.graceMs,
      });
      const current = svc;
      await waitUntilReady(current, () => spec.probe(current), spec.readyMs);
    },
    stop: async () => svc?.stop(),
    kill: async () => svc?.kill(),
  };
}

/** Node with tsx as a loader (not the tsx CLI, whose extra wrapper process would survive a SIGKILL of ours). */
function nodeProcess(name: string, entry: string, env: NodeJS.ProcessEnv, marker: string, logDir: string): ClusterProcess {
  return supervised(
    {
      name,
      command: process.execPath,
      args: ['--import', 'tsx', path.join(REPO_ROOT, entry)],
      env,
      cwd: REPO_ROOT,
      // Workers drain in-flight chunks on SIGTERM (DRAIN_DEADLINE_S); the API closes at once.
      stopSignal: 'SIGTERM',
      graceMs: 20_000,
      readyMs: NODE_READY_MS,
      probe: async (svc) => svc.logTail().includes(marker),
    },
    logDir,
  );
}

const httpAnswers = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
    () => true,
    () => false,
  );

// --- Temporal --------------------------------------------------------------------------------------------------

/** The server binary (built once into the cache by infra/temporal-server.sh, ~30 s after the CLI's build). */
export function temporalServerBinary(): string {
  const out = execFileSync('bash', [path.join(REPO_ROOT, 'infra', 'temporal-server.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop()!;
}

function versitygwBinary(): string {
  const out = execFileSync('bash', [path.join(REPO_ROOT, 'infra', 'versitygw.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop()!;
}

/**
 * The dynamic config of infra/k8s/temporal-values.yaml (`server.dynamicConfig`, already in Temporal's file
 * format). partitions 4 drops the one-partition pins, leaving Temporal's default of 4 per task queue.
 */
export function clusterDynamicConfig(partitions: 1 | 4, pinAllQueues = false): Record<string, unknown> {
  const values = parseYaml(fs.readFileSync(path.join(REPO_ROOT, 'infra', 'k8s', 'temporal-values.yaml'), 'utf8'));
  const dc = { ...(values.server.dynamicConfig as Record<string, unknown>) };
  for (const key of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions']) {
    if (partitions === 4) delete dc[key];
    // An entry without constraints applies to every queue (the most specific match wins for the pinned ones).
    else if (pinAllQueues) dc[key] = [...(dc[key] as unknown[]), { value: 1 }];
  }
  return dc;
}

interface TemporalPorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  membership: [number, number, number, number];
}

/** Temporal's server config (the format of its config/development-postgres12.yaml), as JSON (valid YAML). */
function temporalServerConfig(pgPort: number, p: TemporalPorts, dynamicConfigFile: string): object {
  const sql = (databaseName: string) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${LOOPBACK}:${pgPort}`,
      connectProtocol: 'tcp',
      user: 'postgres',
      password: '',
      maxConns: TEMPORAL_MAX_CONNS,
      maxIdleConns: TEMPORAL_MAX_CONNS,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, httpPort?: number) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: LOOPBACK, ...(httpPort ? { httpPort } : {}) },
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: NUM_HISTORY_SHARDS,
      datastores: { default: sql('temporal'), visibility: sql('temporal_visibility') },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: LOOPBACK } },
    services: {
      frontend: rpc(p.frontend, p.membership[0], p.frontendHttp),
      history: rpc(p.history, p.membership[1]),
      matching: rpc(p.matching, p.membership[2]),
      worker: rpc(p.worker, p.membership[3]),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `${LOOPBACK}:${p.frontend}`,
          httpAddress: `${LOOPBACK}:${p.frontendHttp}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    publicClient: { hostPort: `${LOOPBACK}:${p.frontend}` },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: DYNAMIC_CONFIG_POLL },
  };
}

/**
 * Creates Temporal's two databases and their schemas with Temporal's own SQL tool (fairscribe-temporal
 * sql-tool = go.temporal.io/server/tools/sql of the server's module version, schema files embedded), the steps
 * of the chart's schema jobs: create-database, setup-schema -v 0.0 on a new database, then update-schema to the
 * newest version (idempotent on a database that has it).
 */
async function setupTemporalSchema(bin: string, pgPort: number, logDir: string): Promise<void> {
  const admin = new PgClient({ host: LOOPBACK, port: pgPort, user: 'postgres', database: 'postgres' });
  await admin.connect();
  try {
    for (const [db, schema] of [
      ['temporal', 'postgresql/v12/temporal'],
      ['temporal_visibility', 'postgresql/v12/visibility'],
    ] as const) {
      const common = ['sql-tool', '--ep', LOOPBACK, '-p', String(pgPort), '-u', 'postgres', '--pl', 'postgres12', '--db', db];
      const opts = { logDir, stopSignal: 'SIGTERM' as const, graceMs: 5_000 };
      const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount;
      if (!exists) {
        await runToCompletion(`sql-tool-${db}`, bin, [...common, 'create-database'], opts);
        await runToCompletion(`sql-tool-${db}`, bin, [...common, 'setup-schema', '-v', '0.0'], opts);
      }
      await runToCompletion(`sql-tool-${db}`, bin, [...common, 'update-schema', '--schema-name', schema], opts);
    }
  } finally {
    await admin.end();
  }
}

/**
 * Ready = the frontend answers, namespace `default` exists (registered on first start, as the chart's
 * `namespaces.create` does) and has all our search attributes (added through the operator API: SQL visibility
 * maps them to its predefined Keyword columns).
 */
async function temporalReady(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    return await connection.withDeadline(Date.now() + 5_000, async () => {
      await connection.workflowService.getSystemInfo({});
      try {
        await connection.workflowService.describeNamespace({ namespace: NAMESPACE });
      } catch {
        await connection.workflowService
          .registerNamespace({ namespace: NAMESPACE, workflowExecutionRetentionPeriod: msToTs(NAMESPACE_RETENTION_MS) })
          .catch(() => undefined); // already registered by an earlier probe: the next describe sees it
        return false;
      }
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: NAMESPACE });
      const missing = Object.keys(SEARCH_ATTRIBUTES).filter((n) => customAttributes?.[n] === undefined);
      if (missing.length === 0) return true;
      // A namespace registered a moment ago is not in every service's cache yet: this fails until it is.
      await connection.operatorService
        .addSearchAttributes({
          namespace: NAMESPACE,
          searchAttributes: Object.fromEntries(missing.map((n) => [n, proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
        })
        .catch(() => undefined);
      return false;
    });
  } finally {
    await connection.close();
  }
}

// --- the cluster -----------------------------------------------------------------------------------------------

/**
 * Starts the whole production-shaped deployment and resolves when every process is ready and the dev user
 * exists. If anything fails, what was started is stopped and the error (with the failing process's log tail)
 * is rethrown.
 */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const root = path.resolve(opts.root);
  const dirs = {
    postgres: path.join(root, 'postgres'),
    redis: path.join(root, 'redis'),
    s3: path.join(root, 's3'),
    temporal: path.join(root, 'temporal'),
    nginx: path.join(root, 'nginx'),
    logs: path.join(root, 'logs'),
  };
  if (opts.fresh) {
    for (const d of [dirs.postgres, dirs.redis, dirs.s3, dirs.temporal, dirs.nginx]) fs.rmSync(d, { recursive: true, force: true });
  }
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });

  const names = Object.keys(CLUSTER_DEFAULT_PORTS) as PortName[];
  const extra = await freePorts(opts.ports === 'free' ? names.length + 8 : 8);
  const ports = (opts.ports === 'free'
    ? Object.fromEntries(names.map((n, i) => [n, extra[8 + i]!]))
    : { ...CLUSTER_DEFAULT_PORTS }) as Record<PortName, number>;
  const tPorts: TemporalPorts = {
    frontend: ports.temporal,
    frontendHttp: extra[0]!,
    history: extra[1]!,
    matching: extra[2]!,
    worker: extra[3]!,
    membership: [extra[4]!, extra[5]!, extra[6]!, extra[7]!],
  };

  const started: ClusterProcess[] = [];
  const services: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    // Clients first (gateway, APIs, workers), then the servers they use.
    await Promise.all(started.filter((p) => !['temporal', 'temporal-ui', 's3'].includes(p.name)).map((p) => p.stop()));
    await Promise.all(started.filter((p) => ['temporal', 'temporal-ui', 's3'].includes(p.name)).map((p) => p.stop()));
    await Promise.all(services.map((s) => s.stop()));
  };

  try {
    const s3Key = { id: 'fairscribe', secret: crypto.randomBytes(16).toString('hex') };
    fs.mkdirSync(path.join(dirs.s3, S3_BUCKET), { recursive: true });
    const s3Server = supervised(
      {
        name: 's3',
        command: versitygwBinary(),
        args: ['--port', `${LOOPBACK}:${ports.s3}`, 'posix', dirs.s3],
        env: { ...process.env, ROOT_ACCESS_KEY_ID: s3Key.id, ROOT_SECRET_ACCESS_KEY: s3Key.secret },
        stopSignal: 'SIGTERM',
        graceMs: 5_000,
        readyMs: 20_000,
        probe: () => httpAnswers(`http://${LOOPBACK}:${ports.s3}`),
      },
      dirs.logs,
    );
    const pgOptions = {
      dataDir: dirs.postgres,
      port: ports.postgres,
      fast: opts.fast,
      logDir: dirs.logs,
      settings: { max_connections: PG_MAX_CONNECTIONS },
    };
    let pgCurrent: PgHandle | undefined;
    const pgService = { stop: async () => pgCurrent?.stop() };
    const [pg, redis] = await Promise.all([
      startPostgres(pgOptions).then((h) => ((pgCurrent = h), services.push(pgService), h)),
      startRedis({ port: ports.redis, dir: dirs.redis, logDir: dirs.logs }).then((h) => (services.push(h), h)),
      s3Server.start().then(() => started.push(s3Server)),
    ]);

    const bin = temporalServerBinary();
    await setupTemporalSchema(bin, pg.port, dirs.logs);
    const dynamicConfigFile = path.join(dirs.temporal, 'dynamicconfig.yaml');
    fs.writeFileSync(dynamicConfigFile, JSON.stringify(clusterDynamicConfig(opts.partitions ?? 1, opts.pinAllQueues), null, 2) + '\n');
    fs.writeFileSync(path.join(dirs.temporal, 'cluster.yaml'), JSON.stringify(temporalServerConfig(pg.port, tPorts, dynamicConfigFile), null, 2) + '\n');
    const temporalAddress = `${LOOPBACK}:${ports.temporal}`;
    const temporal = supervised(
      {
        name: 'temporal',
        command: bin,
        args: ['start', '--config-dir', dirs.temporal, '--env', 'cluster'],
        stopSignal: 'SIGTERM',
        graceMs: 15_000,
        readyMs: TEMPORAL_READY_MS,
        probe: () => temporalReady(temporalAddress),
      },
      dirs.logs,
    );
    const uiUrl = `http://${LOOPBACK}:${ports.temporalUi}`;
    const ui = supervised(
      {
        name: 'temporal-ui',
        command: bin,
        args: ['ui', '--ip', LOOPBACK, '--port', String(ports.temporalUi), '--temporal-address', temporalAddress],
        stopSignal: 'SIGTERM',
        graceMs: 5_000,
        readyMs: 20_000,
        probe: () => httpAnswers(uiUrl),
      },
      dirs.logs,
    );
    await temporal.start();
    started.push(temporal);
    const uiStarted = ui.start().then(() => started.push(ui));

    const databaseUrl = `${pg.url.slice(0, pg.url.lastIndexOf('/'))}/fairscribe`;
    await migrate(databaseUrl);
    const env: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: NAMESPACE,
      TEMPORAL_UI_URL: uiUrl,
      BLOB_STORE: 's3',
      S3_ENDPOINT: `http://${LOOPBACK}:${ports.s3}`,
      S3_BUCKET,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: s3Key.id,
      S3_SECRET_ACCESS_KEY: s3Key.secret,
      S3_FORCE_PATH_STYLE: 'true',
      // Browser tokens must verify on either replica.
      TOKEN_SECRET: crypto.randomBytes(32).toString('hex'),
      API_HOST: LOOPBACK,
      LOG_LEVEL: 'info',
      INFERENCE_THREADS: String(WORKER_THREADS),
      ...(opts.modelsDir ? { WHISPER_MODELS_DIR: opts.modelsDir } : {}),
      ...opts.env,
    };
    const nodeEnv = (more: Record<string, string> = {}) => ({ ...process.env, ...env, ...more });
    const apis = [ports.api0, ports.api1].map((port, i) =>
      nodeProcess(`api-${i}`, 'api/main.ts', nodeEnv({ API_PORT: String(port) }), '"msg":"listening"', dirs.logs),
    );
    const orchestration = nodeProcess('orchestration', 'workers/orchestration.ts', nodeEnv(), '"msg":"worker polling"', dirs.logs);
    const cpuWorkers = [0, 1].map((i) => nodeProcess(`cpu-worker-${i}`, 'workers/cpu.ts', nodeEnv(), '"msg":"worker polling"', dirs.logs));
    // The spot-labelled worker polls transcribe-gpu-spot on the CPU provider: this machine has no GPU.
    const spotWorker = nodeProcess('spot-worker', 'workers/gpu-spot.ts', nodeEnv({ WHISPER_EP: 'cpu' }), '"msg":"worker polling"', dirs.logs);
    // One at a time: each Node process compiles its TypeScript through tsx at start, which on two cores
    // goes no faster in parallel, and a failure then names one process.
    for (const p of [orchestration, ...apis, ...cpuWorkers, spotWorker]) {
      await p.start();
      started.push(p);
    }

    const prefix = dirs.nginx;
    fs.chmodSync(prefix, 0o755);
    fs.mkdirSync(path.join(prefix, 'tmp'), { recursive: true, mode: 0o755 });
    const conf = path.join(prefix, 'nginx.conf');
    fs.writeFileSync(
      conf,
      renderGatewayConfig({ workerProcesses: 1, listen: `${LOOPBACK}:${ports.gateway}`, apis: [ports.api0, ports.api1].map((p) => `${LOOPBACK}:${p}`), prefix }),
    );
    const apiUrl = `http://${LOOPBACK}:${ports.gateway}`;
    const gateway = supervised(
      {
        name: 'gateway',
        command: NGINX_BIN,
        args: ['-p', prefix, '-c', conf, '-e', path.join(dirs.logs, 'gateway-error.log'), '-g', 'daemon off;'],
        stopSignal: 'SIGQUIT',
        graceMs: 5_000,
        readyMs: 10_000,
        probe: async () => (await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(2_000) }).catch(() => null))?.ok ?? false,
      },
      dirs.logs,
    );
    await gateway.start();
    started.push(gateway);
    await uiStarted;

    const pool = new Pool({ connectionString: databaseUrl, max: 1 });
    let devApiKey: string;
    try {
      devApiKey = await ensureDevUser(pool, path.join(root, 'dev-key.json'));
    } finally {
      await pool.end();
    }

    return {
      root,
      pg,
      redis,
      databaseUrl,
      redisUrl: redis.url,
      temporalAddress,
      uiUrl,
      apiUrl,
      devApiKey,
      env,
      s3: { endpoint: env.S3_ENDPOINT!, bucket: S3_BUCKET, bucketDir: path.join(dirs.s3, S3_BUCKET) },
      temporal,
      ui,
      s3Server,
      gateway,
      apis,
      orchestration,
      cpuWorkers,
      spotWorker,
      async addWorker(name, entry, more = {}) {
        const p = nodeProcess(name, entry, nodeEnv(more), '"msg":"worker polling"', dirs.logs);
        await p.start();
        started.push(p);
        return p;
      },
      async restartPostgres(downMs) {
        await pgCurrent?.stop();
        await new Promise((r) => setTimeout(r, downMs));
        pgCurrent = await startPostgres(pgOptions);
      },
      pids() {
        const out: Record<string, number> = { postgres: pgCurrent?.pid ?? pg.pid, redis: redis.pid };
        for (const p of started) {
          const pid = p.pid();
          if (pid) out[p.name] = pid;
        }
        return out;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}

/**
 * Memory of each process in MiB, children not included: `rss` its resident set now (/proc/<pid>/status VmRSS),
 * `peak` the most it has held since it started (VmHWM). A process that has exited is left out.
 */
export function memoryByProcess(pids: Record<string, number>): Record<string, { rss: number; peak: number }> {
  const out: Record<string, { rss: number; peak: number }> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
      out[name] = { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
    } catch {
      // gone
    }
  }
  return out;
}

async function main() {
  const log = createLogger({ component: 'cluster' });
  const root = path.join(REPO_ROOT, '.data', 'cluster');
  const t0 = Date.now();
  log.info('starting the production-shaped cluster', { root });
  let cluster: Cluster | undefined;
  const stop = stopOnSignals(log, async () => {
    await cluster?.stop();
  });
  try {
    cluster = await startCluster({ root, ports: 'default', partitions: 1 });
  } catch (err) {
    log.error('start-up failed', { err: String((err as Error)?.stack ?? err) });
    return stop(1);
  }
  writeStackFile({ apiUrl: cluster.apiUrl, temporalAddress: cluster.temporalAddress, uiUrl: cluster.uiUrl, devApiKey: cluster.devApiKey });
  log.info('cluster ready', { apiUrl: cluster.apiUrl, uiUrl: cluster.uiUrl, ms: Date.now() - t0, stackFile: STACK_FILE, memoryMiB: memoryByProcess(cluster.pids()) });
  process.stderr.write(
    `\nfairscribe cluster is up: API ${cluster.apiUrl} (gateway → 2 replicas), Temporal ${cluster.temporalAddress} ` +
      `(PostgreSQL persistence + visibility), UI ${cluster.uiUrl}; logs in ${path.join(root, 'logs')}. Ctrl-C stops it.\n`,
  );
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
