/**
 * Starts and stops the real backing services (PostgreSQL, Redis, the Temporal dev server) as child processes
 * of the calling Node process, for the dev stack (`npm start`, data under `.data/`) and for integration tests
 * (a mkdtemp root on free ports).
 *
 * Design:
 * - Every service is a direct child (never a daemon), so it cannot outlive us: stop() signals it and waits for
 *   its exit; a process 'exit' hook SIGKILLs whatever is left; and a tiny watchdog per child kills it even when
 *   this process dies by SIGKILL (a Jest timeout, the OOM killer), when no hook of ours can run.
 * - Children write to `<logDir>/<name>.log`, never to the console. A child that dies before it is ready makes
 *   the start promise reject with the tail of that log.
 * - Readiness is checked with each service's own protocol (a real query, PING, a gRPC call), not by a sleep.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client as PgClient } from 'pg';
import { Connection } from '@temporalio/client';

/**
 * The custom search attributes the dev server registers at start-up. Operators filter jobs by them in the
 * Temporal UI (README "Ops: finding jobs in the Temporal UI"); workflows set them on start.
 */
export const SEARCH_ATTRIBUTES = {
  UserId: 'Keyword',
  Tier: 'Keyword',
  JobStatus: 'Keyword',
  Backend: 'Keyword',
  ModelTier: 'Keyword',
} as const satisfies Record<string, 'Keyword'>;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;

// --- constants -------------------------------------------------------------------------------------------------

/** Everything binds to loopback only: these are unauthenticated dev/test services (Postgres runs with trust). */
const LOOPBACK = '127.0.0.1';

/** Pinned Temporal CLI (Server 1.29.1); must match CLI_VERSION in infra/temporal-cli.sh. */
const TEMPORAL_CLI_VERSION = '1.5.1';

/** The Temporal namespace the dev server always creates. */
const DEFAULT_NAMESPACE = 'default';

/**
 * Dynamic config for the dev server. Fairness (implies the priority-aware matcher) plus a single task-queue
 * partition, so dispatch order in dev and tests is exactly priority-then-fair (with the default 4 partitions it
 * only roughly holds). Values are JSON: ints unquoted, a quoted "1" is silently ignored by the server.
 */
const TEMPORAL_DYNAMIC_CONFIG: readonly string[] = [
  'matching.enableFairness=true',
  'matching.numTaskqueueReadPartitions=1',
  'matching.numTaskqueueWritePartitions=1',
];

/** start-dev's default is info, which logs every poll; warn keeps the log file readable. */
const TEMPORAL_LOG_LEVEL = 'warn';

/** Where Debian/Ubuntu put versioned PostgreSQL binaries (`/usr/lib/postgresql/15/bin`). */
const DEBIAN_PG_ROOT = '/usr/lib/postgresql';

/** The cluster's superuser, and the OS user that must own a cluster when we run as root (initdb refuses root). */
const PG_SUPERUSER = 'postgres';
const PG_OS_USER = 'postgres';
const PG_MAINTENANCE_DB = 'postgres';
const PG_DEFAULT_DATABASE = 'fairscribe';

/** Linux's sun_path is 108 bytes including the NUL; Postgres puts `.s.PGSQL.<port>` in the socket directory. */
const UNIX_SOCKET_PATH_MAX = 107;

/** How often readiness probes retry, how long one probe may wait to connect, and to get an answer. */
const PROBE_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 1_000;
const PROBE_CALL_DEADLINE_MS = 5_000;

/** How long a server may take to become ready before we give up (initdb, run before, is not counted). */
const READY_TIMEOUT_MS = {
  postgres: 30_000,
  redis: 10_000,
  temporal: 60_000,
} as const;

/** How long a graceful shutdown may take before SIGKILL. Measured here: Postgres ~20 ms, Redis ~60 ms, Temporal ~1.5 s. */
const STOP_GRACE_MS = {
  postgres: 15_000,
  redis: 10_000,
  temporal: 15_000,
} as const;

/**
 * The graceful-stop signal for each service. Postgres: SIGINT is "fast shutdown" (disconnect clients, checkpoint),
 * SIGTERM would be "smart" and wait for every client (a leaked pool would hang us). Redis and Temporal shut down
 * cleanly on SIGTERM.
 */
const STOP_SIGNAL = {
  postgres: 'SIGINT',
  redis: 'SIGTERM',
  temporal: 'SIGTERM',
} as const satisfies Record<string, NodeJS.Signals>;

/** How often an orphaned child's watchdog checks whether the child has exited after its stop signal. */
const WATCHDOG_POLL_MS = 100;

/** Lines of a child's log quoted in the error when it fails to start. */
const LOG_TAIL_LINES = 30;

/** Layout of a services root (`.data/` for the dev stack). */
const ROOT_LAYOUT = {
  postgres: 'postgres',
  redis: 'redis',
  temporalDb: 'temporal.db',
  logs: 'logs',
} as const;

/** Default ports of the dev stack (the services' usual ports, so tools like psql work without flags). */
export const DEFAULT_PORTS = {
  postgres: 5432,
  redis: 6379,
  temporal: 7233,
  temporalUi: 8233,
} as const;

// --- handles ---------------------------------------------------------------------------------------------------

/** A running service. stop() is idempotent and resolves once the process has exited. */
export interface ServiceHandle {
  port: number;
  /** The service's combined stdout/stderr. */
  logFile: string;
  /** OS process id of the server (for diagnostics). */
  pid: number;
  stop(): Promise<void>;
}

export interface PgHandle extends ServiceHandle {
  /** `postgres://postgres@127.0.0.1:PORT/DB` (trust auth, no password). */
  url: string;
  database: string;
  dataDir: string;
}

export interface RedisHandle extends ServiceHandle {
  /** `redis://127.0.0.1:PORT` */
  url: string;
}

export interface TemporalHandle extends ServiceHandle {
  /** `127.0.0.1:PORT`, as `Connection.connect({ address })` takes it. */
  address: string;
  namespace: string;
  /** The Web UI, or undefined when started headless. */
  uiUrl: string | undefined;
}

// --- ports -----------------------------------------------------------------------------------------------------

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago (the OS picks it; we bind port 0 and close).
 * Another process may still take it before the caller binds it; use {@link freePorts} when several are needed
 * at once, since sequential calls can return the same port.
 */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/** Returns `count` distinct free ports: all listeners are held open until every port is known. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, LOOPBACK, () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** True when nothing listens on 127.0.0.1:port (we can bind it). */
export async function isPortFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, LOOPBACK, () => server.close(() => resolve(true)));
  });
}

/**
 * Refuses to start on a busy port. Without this a readiness probe could succeed against *another* server already
 * listening there (a system Postgres on 5432), while our child quietly fails to bind.
 */
async function assertPortFree(port: number, service: string): Promise<void> {
  if (!(await isPortFree(port))) {
    throw new Error(`${service}: port ${LOOPBACK}:${port} is already in use (another ${service} running? stop it or pick another port)`);
  }
}

// --- child process supervision ---------------------------------------------------------------------------------

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (ENOENT, EACCES). */
  error?: Error;
}

export interface Supervised {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<ExitInfo>;
  hasExited(): boolean;
  /** The last lines this run wrote to its log (earlier runs' lines excluded). */
  logTail(): string;
  /** Sends the graceful stop signal, waits up to its grace period for exit, then SIGKILLs. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL now and wait for the exit (a server that never became ready has nothing to shut down cleanly). */
  kill(): Promise<void>;
}

/** Children still running, SIGKILLed by the 'exit' hook. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: signal and go. Normal shutdown goes through stop() and never gets here
  // with anything left.
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Stops `pid` when this Node process dies, however it dies. `sh` blocks reading a pipe whose only writer is us;
 * the kernel closes it when we exit (even on SIGKILL, when no JS runs), `read` returns, and the watchdog sends the
 * service's graceful stop signal, then SIGKILL if it is still there after the grace period. It ignores
 * INT/TERM/HUP because Ctrl-C or `kill -- -PGID` signals our whole process group, watchdogs included, and the
 * watchdog must outlive us to do its job. stop() kills the watchdog first, so it never fires at a reused pid.
 */
function spawnWatchdog(pid: number, stopSignal: NodeJS.Signals, graceMs: number): ChildProcess {
  const script = [
    "trap '' INT TERM HUP",
    'read _ignored',
    'kill -s "$1" "$0" 2>/dev/null || exit 0',
    'i=0',
    `while [ "$i" -lt "$2" ] && kill -0 "$0" 2>/dev/null; do sleep ${WATCHDOG_POLL_MS / 1000}; i=$((i + 1)); done`,
    'kill -s KILL "$0" 2>/dev/null',
  ].join('\n');
  const polls = Math.ceil(graceMs / WATCHDOG_POLL_MS);
  const watchdog = spawn('sh', ['-c', script, String(pid), stopSignal.replace(/^SIG/, ''), String(polls)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.on('error', () => undefined); // no sh: we still have the exit hook
  // Neither the watchdog nor its pipe may keep the event loop (a test run, a script) alive.
  watchdog.unref();
  (watchdog.stdin as unknown as net.Socket | null)?.unref();
  return watchdog;
}

/** The last lines of `file` from byte `fromOffset` on (the current run's part of an appended log). */
function tailOfFile(file: string, fromOffset = 0, lines = LOG_TAIL_LINES): string {
  try {
    const text = fs.readFileSync(file).subarray(fromOffset).toString('utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function describeExit(info: ExitInfo): string {
  if (info.error) return `could not be started: ${info.error.message}`;
  return info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`;
}

export interface LaunchOptions {
  logDir: string;
  cwd?: string;
  /** Run as this OS user (we are root and the program refuses root, e.g. Postgres). */
  user?: { uid: number; gid: number };
  env?: NodeJS.ProcessEnv;
  /** Graceful stop signal and how long to wait for it before SIGKILL (stop() and the watchdog). */
  stopSignal: NodeJS.Signals;
  graceMs: number;
}

/** Spawns `command` with stdout+stderr appended to `<logDir>/<name>.log`, tracked for cleanup. */
export function launch(name: string, command: string, args: readonly string[], opts: LaunchOptions): Supervised {
  installExitHook();
  fs.mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${name}.log`);
  // Append, with a header, so the log of a restart follows the previous run's.
  const runStartOffset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  fs.appendFileSync(logFile, `\n=== ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
  const logFd = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', logFd, logFd],
      uid: opts.user?.uid,
      gid: opts.user?.gid,
    });
  } finally {
    // The child holds its own copy of the descriptor.
    fs.closeSync(logFd);
  }

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => {
      // 'error' without a pid means the spawn failed and no 'exit' will follow.
      if (child.pid === undefined) {
        exitInfo = { code: null, signal: null, error };
        resolve(exitInfo);
      }
    });
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });

  let watchdog: ChildProcess | undefined;
  if (child.pid !== undefined) {
    liveChildren.add(child);
    watchdog = spawnWatchdog(child.pid, opts.stopSignal, opts.graceMs);
  }
  void exited.then(() => {
    liveChildren.delete(child);
    watchdog?.kill('SIGKILL');
  });

  let stopping: Promise<void> | undefined;
  const stopWith = (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    stopping ??= (async () => {
      if (exitInfo) return;
      watchdog?.kill('SIGKILL');
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        fs.appendFileSync(logFile, `=== ${name} did not stop within ${graceMs} ms of ${signal}; sending SIGKILL\n`);
        child.kill('SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };

  return {
    name,
    child,
    logFile,
    exited,
    hasExited: () => exitInfo !== undefined,
    logTail: () => tailOfFile(logFile, runStartOffset),
    stop: () => stopWith(opts.stopSignal, opts.graceMs),
    kill: () => stopWith('SIGKILL', 0),
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it resolves true. Rejects (after stopping the child) when the child exits first or the
 * timeout passes; the error carries the tail of the child's log, which is where the reason is.
 */
export async function waitUntilReady(svc: Supervised, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (svc.hasExited()) {
      const info = await svc.exited;
      throw new Error(`${svc.name} ${describeExit(info)} before it was ready; last lines of ${svc.logFile}:\n${svc.logTail()}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      await svc.kill();
      const why = lastError instanceof Error ? ` (last probe error: ${lastError.message})` : '';
      throw new Error(`${svc.name} was not ready within ${timeoutMs} ms${why}; last lines of ${svc.logFile}:\n${svc.logTail()}`);
    }
    // Wake early if the child dies, so a crash is reported at once rather than after the interval.
    await Promise.race([sleep(PROBE_INTERVAL_MS), svc.exited]);
  }
}

/** Runs a short-lived command to completion (output to its log); rejects with the log tail on failure. */
export async function runToCompletion(name: string, command: string, args: readonly string[], opts: LaunchOptions): Promise<void> {
  const svc = launch(name, command, args, opts);
  const info = await svc.exited;
  if (info.error || info.code !== 0) {
    throw new Error(`${name} ${describeExit(info)}; last lines of ${svc.logFile}:\n${svc.logTail()}`);
  }
}

// --- PostgreSQL ------------------------------------------------------------------------------------------------

export interface PostgresOptions {
  /** The cluster directory; created and initialised (initdb) when it holds no cluster yet, reused otherwise. */
  dataDir: string;
  port: number;
  /** Database to create if missing; default `fairscribe`. */
  database?: string;
  /** Trade durability for speed (fsync, synchronous_commit, full_page_writes off): tests only. */
  fast?: boolean;
  /** Where `postgres.log` / `initdb.log` go; default `<dataDir>/../logs`. */
  logDir?: string;
  /** More `-c name=value` server settings (the cluster raises max_connections for the Temporal server). */
  settings?: Record<string, string>;
}

/**
 * Directory holding `initdb` and `postgres`: `$PG_BIN` if set, else the newest `/usr/lib/postgresql/<ver>/bin`
 * (Debian does not put them on PATH), else '' meaning "look them up on PATH".
 */
function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  let versions: string[] = [];
  try {
    versions = fs.readdirSync(DEBIAN_PG_ROOT);
  } catch {
    return '';
  }
  const installed = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v) && fs.existsSync(path.join(DEBIAN_PG_ROOT, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return installed.length > 0 ? path.join(DEBIAN_PG_ROOT, installed[0]!, 'bin') : '';
}

/**
 * The OS user to run Postgres as. Postgres refuses to run as root, so as root we switch to the `postgres`
 * system user (created by the distribution package); otherwise we run as ourselves.
 */
function postgresOsUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', PG_OS_USER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', PG_OS_USER], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(`running as root, Postgres needs the '${PG_OS_USER}' OS user (initdb and postgres refuse root); install the postgresql package or run as a normal user`);
  }
}

/**
 * Lets the postgres user reach `dir`: every ancestor needs the search (x) bit for "other". mkdtemp creates 0700
 * directories and $HOME is often 0700, so e.g. a test root under /tmp/xyz-abc123 would be unreachable. We add
 * only o+x (enter, not list) to ancestors we own, and explain what we changed in the log.
 */
function ensureTraversable(dir: string, logFile: string): void {
  const uid = process.getuid?.();
  for (let current = path.dirname(path.resolve(dir)); ; current = path.dirname(current)) {
    const st = fs.statSync(current);
    if ((st.mode & 0o001) === 0) {
      if (st.uid !== uid) {
        throw new Error(`Postgres (user ${PG_OS_USER}) cannot enter ${current} (no o+x, owned by uid ${st.uid}); put the data directory elsewhere`);
      }
      fs.chmodSync(current, (st.mode & 0o7777) | 0o001);
      fs.appendFileSync(logFile, `=== added o+x to ${current} so the ${PG_OS_USER} user can reach its data directory\n`);
    }
    if (current === path.dirname(current)) break;
  }
}

/**
 * Starts a project-local PostgreSQL cluster as a child process and waits until it accepts queries.
 *
 * First start on an empty/missing dataDir runs initdb (trust auth, superuser `postgres`, UTF8, C locale);
 * later starts reuse the cluster. Listens on 127.0.0.1:port only, with its Unix socket inside dataDir (never
 * /var/run/postgresql, which belongs to the system cluster). As root, runs as the `postgres` OS user.
 * Creates `opts.database` if missing.
 *
 * @throws if the port is busy, no Postgres binaries are found, initdb fails, or the server exits or is not
 *   ready within 30 s (the error includes the tail of `postgres.log`).
 */
export async function startPostgres(opts: PostgresOptions): Promise<PgHandle> {
  const dataDir = path.resolve(opts.dataDir);
  const database = opts.database ?? PG_DEFAULT_DATABASE;
  const logDir = opts.logDir ?? path.join(path.dirname(dataDir), ROOT_LAYOUT.logs);
  await assertPortFree(opts.port, 'postgres');
  const binDir = postgresBinDir();
  const bin = (name: string) => (binDir ? path.join(binDir, name) : name);
  const user = postgresOsUser();
  const launchOpts: LaunchOptions = {
    logDir,
    user,
    cwd: path.dirname(dataDir),
    stopSignal: STOP_SIGNAL.postgres,
    graceMs: STOP_GRACE_MS.postgres,
  };

  fs.mkdirSync(dataDir, { recursive: true });
  if (user) {
    fs.mkdirSync(logDir, { recursive: true });
    ensureTraversable(dataDir, path.join(logDir, 'postgres.log'));
  }
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    // initdb wants the directory to be ours (the postgres user's) and empty; it then sets it to 0700.
    if (user) fs.chownSync(dataDir, user.uid, user.gid);
    await runToCompletion(
      'initdb',
      bin('initdb'),
      [
        '-D', dataDir,
        '--auth=trust', // loopback-only dev/test cluster: no passwords to manage
        '-U', PG_SUPERUSER,
        '--encoding=UTF8',
        '--no-locale', // C collation: identical sort order on every machine, and faster
        ...(opts.fast ? ['--no-sync'] : []),
      ],
      launchOpts,
    );
  }

  const socketPathFits = path.join(dataDir, `.s.PGSQL.${opts.port}`).length <= UNIX_SOCKET_PATH_MAX;
  const settings: Record<string, string> = {
    listen_addresses: LOOPBACK,
    port: String(opts.port),
    // An empty list disables the Unix socket when the path would be too long; we only use TCP anyway.
    unix_socket_directories: socketPathFits ? dataDir : '',
    ...(opts.fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...opts.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const svc = launch('postgres', bin('postgres'), args, launchOpts);

  const connect = (db: string) =>
    new PgClient({ host: LOOPBACK, port: opts.port, user: PG_SUPERUSER, database: db, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  await waitUntilReady(
    svc,
    async () => {
      const client = connect(PG_MAINTENANCE_DB);
      // A failed connect emits 'error' too; swallow it here, the probe's rejection is what counts.
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    READY_TIMEOUT_MS.postgres,
  );

  try {
    await ensureDatabase(connect(PG_MAINTENANCE_DB), database);
  } catch (err) {
    await svc.stop();
    throw err;
  }

  return {
    url: `postgres://${PG_SUPERUSER}@${LOOPBACK}:${opts.port}/${database}`,
    port: opts.port,
    database,
    dataDir,
    logFile: svc.logFile,
    pid: svc.child.pid!,
    stop: svc.stop,
  };
}

async function ensureDatabase(client: PgClient, database: string): Promise<void> {
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      // Identifiers cannot be bind parameters; quote it the way Postgres does.
      await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    }
  } finally {
    await client.end();
  }
}

// --- Redis -----------------------------------------------------------------------------------------------------

export interface RedisOptions {
  port: number;
  /** Working directory of redis-server (nothing is persisted: no RDB, no AOF). */
  dir: string;
  /** Where `redis.log` goes; default `<dir>/../logs`. */
  logDir?: string;
}

/** One PING over a raw socket; true on `+PONG`. Raw, so a refused connection costs no client reconnect logic. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
    let reply = '';
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('PING timed out'));
    });
    socket.once('error', reject);
  });
}

/**
 * Starts `redis-server` as a child on 127.0.0.1:port with persistence off (quota counters are rebuilt from the
 * Postgres ledger, so Redis state is disposable) and waits for PING.
 *
 * @throws if the port is busy, redis-server is not installed, or it exits / does not answer within 10 s
 *   (the error includes the tail of `redis.log`).
 */
export async function startRedis(opts: RedisOptions): Promise<RedisHandle> {
  const dir = path.resolve(opts.dir);
  const logDir = opts.logDir ?? path.join(path.dirname(dir), ROOT_LAYOUT.logs);
  await assertPortFree(opts.port, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const args = [
    '--port', String(opts.port),
    '--bind', LOOPBACK,
    '--save', '', // no RDB snapshots
    '--appendonly', 'no',
    '--dir', dir,
    '--daemonize', 'no', // must stay our child
  ];
  const svc = launch('redis', 'redis-server', args, {
    logDir,
    cwd: dir,
    stopSignal: STOP_SIGNAL.redis,
    graceMs: STOP_GRACE_MS.redis,
  });
  await waitUntilReady(svc, () => redisPing(opts.port), READY_TIMEOUT_MS.redis);
  return {
    url: `redis://${LOOPBACK}:${opts.port}`,
    port: opts.port,
    logFile: svc.logFile,
    pid: svc.child.pid!,
    stop: svc.stop,
  };
}

// --- Temporal --------------------------------------------------------------------------------------------------

/** Where infra/temporal-cli.sh caches its build. */
function cachedTemporalBinary(): string {
  const cacheRoot = process.env.FAIRSCRIBE_CACHE ?? path.join(os.homedir(), '.cache', 'fairscribe');
  return path.join(cacheRoot, `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'bin', 'temporal');
}

/**
 * Path of the Temporal CLI (which contains the dev server): `$TEMPORAL_BIN` if set, else the build cached by
 * `infra/temporal-cli.sh`. Unlike the script it does not look at PATH (checking the server version there would
 * mean running it synchronously on every call); set TEMPORAL_BIN to use a system install.
 *
 * @throws Error telling the user to run `npm run setup` when neither exists.
 */
export function temporalBinary(): string {
  const fromEnv = process.env.TEMPORAL_BIN;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`TEMPORAL_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  const cached = cachedTemporalBinary();
  if (fs.existsSync(cached)) return cached;
  throw new Error(
    `Temporal CLI not found at ${cached}. Run \`npm run setup\` (or \`bash infra/temporal-cli.sh\`; it builds ` +
      `Temporal CLI v${TEMPORAL_CLI_VERSION} once, ~5 min), or set TEMPORAL_BIN to an existing temporal binary.`,
  );
}

export interface TemporalOptions {
  /** gRPC frontend port. */
  port: number;
  /** Web UI port; omitted = headless (no UI). */
  uiPort?: number;
  /** SQLite file making state durable across restarts; omitted = in memory, lost on stop. */
  dbFile?: string;
  /** An extra namespace to create besides `default`, and the one readiness is checked in. */
  namespace?: string;
  /** More namespaces to create at start-up (tests: one per test file, so task queues never meet). */
  extraNamespaces?: string[];
  /** More `--dynamic-config-value key=value`s, after ours (tests: see test/helpers/global-setup.ts). */
  dynamicConfig?: readonly string[];
  /** Where `temporal.log` goes; default `<dir of dbFile>/logs`, else a new temp dir. */
  logDir?: string;
}

/** One connect + GetSystemInfo + ListSearchAttributes; true once the namespace has all our search attributes. */
async function temporalReady(address: string, namespace: string): Promise<boolean> {
  // Cheap TCP check first: a gRPC channel to a closed port sits in reconnect backoff for up to the connect
  // timeout, which would add up to a second to every start.
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port: Number(address.split(':')[1]) });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
  const connection = await Connection.connect({ address, connectTimeout: PROBE_TIMEOUT_MS });
  try {
    // A deadline, so a server that accepts but never answers cannot hang the probe loop past its timeout.
    return await connection.withDeadline(Date.now() + PROBE_CALL_DEADLINE_MS, async () => {
      await connection.workflowService.getSystemInfo({});
      // Don't trust the frontend's first answer alone: also require the namespace and all our search attributes,
      // so callers can start workflows with search attributes at once.
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      return Object.keys(SEARCH_ATTRIBUTES).every((name) => customAttributes?.[name] !== undefined);
    });
  } finally {
    await connection.close();
  }
}

/**
 * Starts `temporal server start-dev` as a child on 127.0.0.1:port with our search attributes, fairness on and one
 * task-queue partition (exact priority/fair ordering), and waits until the frontend answers and the search
 * attributes are registered.
 *
 * @throws if the port is busy, the CLI is missing (see {@link temporalBinary}), or the server exits or is not
 *   ready within 60 s (the error includes the tail of `temporal.log`).
 */
export async function startTemporal(opts: TemporalOptions): Promise<TemporalHandle> {
  const binary = temporalBinary();
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const dbFile = opts.dbFile ? path.resolve(opts.dbFile) : undefined;
  const logDir =
    opts.logDir ??
    (dbFile ? path.join(path.dirname(dbFile), ROOT_LAYOUT.logs) : await fsp.mkdtemp(path.join(os.tmpdir(), 'fairscribe-temporal-logs-')));
  await assertPortFree(opts.port, 'temporal');
  if (opts.uiPort !== undefined) await assertPortFree(opts.uiPort, 'temporal UI');
  if (dbFile) fs.mkdirSync(path.dirname(dbFile), { recursive: true });

  const args = [
    'server', 'start-dev',
    '--ip', LOOPBACK,
    '--port', String(opts.port),
    '--log-level', TEMPORAL_LOG_LEVEL,
    ...(opts.uiPort !== undefined ? ['--ui-port', String(opts.uiPort)] : ['--headless']),
    ...(dbFile ? ['--db-filename', dbFile] : []),
    ...(namespace !== DEFAULT_NAMESPACE ? ['--namespace', namespace] : []),
    ...(opts.extraNamespaces ?? []).flatMap((ns) => ['--namespace', ns]),
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ...[...TEMPORAL_DYNAMIC_CONFIG, ...(opts.dynamicConfig ?? [])].flatMap((kv) => ['--dynamic-config-value', kv]),
  ];
  const svc = launch('temporal', binary, args, {
    logDir,
    cwd: dbFile ? path.dirname(dbFile) : logDir,
    stopSignal: STOP_SIGNAL.temporal,
    graceMs: STOP_GRACE_MS.temporal,
  });
  const address = `${LOOPBACK}:${opts.port}`;
  await waitUntilReady(svc, () => temporalReady(address, namespace), READY_TIMEOUT_MS.temporal);
  return {
    address,
    port: opts.port,
    namespace,
    uiUrl: opts.uiPort !== undefined ? `http://${LOOPBACK}:${opts.uiPort}` : undefined,
    logFile: svc.logFile,
    pid: svc.child.pid!,
    stop: svc.stop,
  };
}

// --- all three -------------------------------------------------------------------------------------------------

export type PortName = keyof typeof DEFAULT_PORTS;

export interface StartAllOptions {
  /** Services root: `<root>/postgres`, `<root>/redis`, `<root>/temporal.db`, `<root>/logs`. */
  root: string;
  /** Fixed ports; those omitted are picked free (tests), pass DEFAULT_PORTS for the dev stack. */
  ports?: Partial<Record<PortName, number>>;
  /** Start the Temporal Web UI (on ports.temporalUi, or a free port). Default false. */
  ui?: boolean;
  /** Delete existing Postgres data, Redis dir and Temporal db under root first (logs are kept). */
  fresh?: boolean;
  /** Postgres without fsync (tests). */
  fast?: boolean;
  /** Postgres database name; default `fairscribe`. */
  database?: string;
  /** Temporal namespaces to create besides `default`. */
  extraNamespaces?: string[];
  /** More Temporal dynamic config values (TemporalOptions.dynamicConfig). */
  temporalDynamicConfig?: readonly string[];
}

export interface Services {
  root: string;
  pg: PgHandle;
  redis: RedisHandle;
  temporal: TemporalHandle;
  /** Stops all three in parallel; resolves when all have exited. */
  stop(): Promise<void>;
}

/**
 * Starts Postgres, Redis and Temporal in parallel under `root`. If any fails, the others are stopped and the
 * first error is rethrown (with its service's log tail).
 */
export async function startAll(opts: StartAllOptions): Promise<Services> {
  const root = path.resolve(opts.root);
  const dirs = {
    postgres: path.join(root, ROOT_LAYOUT.postgres),
    redis: path.join(root, ROOT_LAYOUT.redis),
    temporalDb: path.join(root, ROOT_LAYOUT.temporalDb),
    logs: path.join(root, ROOT_LAYOUT.logs),
  };
  if (opts.fresh) {
    // SQLite keeps -wal/-shm files beside the database.
    const temporalFiles = ['', '-wal', '-shm', '-journal'].map((suffix) => dirs.temporalDb + suffix);
    await Promise.all([dirs.postgres, dirs.redis, ...temporalFiles].map((p) => fsp.rm(p, { recursive: true, force: true })));
  }
  fs.mkdirSync(dirs.logs, { recursive: true });

  const wanted: PortName[] = ['postgres', 'redis', 'temporal', ...(opts.ui ? (['temporalUi'] as const) : [])];
  const missing = wanted.filter((k) => opts.ports?.[k] === undefined);
  const picked = await freePorts(missing.length);
  const ports: Partial<Record<PortName, number>> = { ...opts.ports };
  missing.forEach((k, i) => (ports[k] = picked[i]));

  const results = await Promise.allSettled([
    startPostgres({ dataDir: dirs.postgres, port: ports.postgres!, database: opts.database, fast: opts.fast, logDir: dirs.logs }),
    startRedis({ port: ports.redis!, dir: dirs.redis, logDir: dirs.logs }),
    startTemporal({
      port: ports.temporal!,
      uiPort: opts.ui ? ports.temporalUi : undefined,
      dbFile: dirs.temporalDb,
      logDir: dirs.logs,
      extraNamespaces: opts.extraNamespaces,
      dynamicConfig: opts.temporalDynamicConfig,
    }),
  ] as const);
  const [pg, redis, temporal] = results;
  if (pg.status !== 'fulfilled' || redis.status !== 'fulfilled' || temporal.status !== 'fulfilled') {
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length === 1) throw failures[0]!.reason;
    throw new AggregateError(failures.map((f) => f.reason), failures.map((f) => String(f.reason?.message ?? f.reason)).join('\n---\n'));
  }
  return {
    root,
    pg: pg.value,
    redis: redis.value,
    temporal: temporal.value,
    stop: async () => {
      await Promise.all([pg.value.stop(), redis.value.stop(), temporal.value.stop()]);
    },
  };
}
