/**
 * `npm run -s bench:sse [-- --streams 500 --idle-s 10 --events 300 --rate 30 --repo DIR]`
 *
 * What N open Server-Sent Event streams cost one API replica's database, and how late events reach them.
 * Starts its own Postgres (with pg_stat_statements, which counts every statement the server runs), Redis and a
 * Temporal dev server on free ports, one API replica as a child process (`node --import tsx <repo>/api/main.ts`),
 * N jobs (rows only: no worker runs them) and one stream per job, then:
 *  1. idle: the streams stay open for --idle-s seconds with no events; statements per second by the API;
 *  2. events: --events progress events inserted at --rate per second, each into a random job, the way the
 *     activities insert them; per event the time from just before its INSERT to its arrival on the stream, and
 *     the statements per second meanwhile.
 * "Before and after" = the same bench on two checkouts: --repo points the API at another one (e.g. a
 * `git archive <commit before LISTEN/NOTIFY> | tar -x -C /tmp/fs-before` with this repo's node_modules linked in); the
 * schema is always this checkout's (the old code ignores the trigger). Prints one line per phase.
 * The machine is shared: run before and after back to back and compare ratios.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import { migrate } from '../common/db';
import { createUser } from '../common/keys';
import { freePorts, startPostgres, startRedis, startTemporal } from '../infra/services';
import { loadNow } from './lib';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Statements the server ran in this database so far, not counting the bench's own (inserts, this query). */
async function statementCount(db: Pool): Promise<{ all: number; jobEventReads: number }> {
  const { rows } = await db.query(
    `SELECT coalesce(sum(calls), 0)::bigint AS all,
            coalesce(sum(calls) FILTER (WHERE query ILIKE 'SELECT%FROM job_events%'), 0)::bigint AS reads
       FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE 'INSERT INTO job_events%'`,
  );
  return { all: Number(rows[0].all), jobEventReads: Number(rows[0].reads) };
}

interface Stream {
  jobId: string;
  /** event id → arrival time (performance.now()) */
  arrivals: Map<number, number>;
  req: http.ClientRequest;
}

function openStream(apiUrl: string, apiKey: string, jobId: string, agent: http.Agent): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const arrivals = new Map<number, number>();
    const req = http.get(`${apiUrl}/v1/jobs/${jobId}/events`, { agent, headers: { authorization: `Bearer ${apiKey}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream ${jobId}: HTTP ${res.statusCode}`));
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const now = performance.now();
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const m = /^id: (\d+)$/m.exec(buf.slice(0, i));
          if (m) arrivals.set(Number(m[1]), now);
          buf = buf.slice(i + 2);
        }
      });
      res.on('error', () => undefined);
      resolve({ jobId, arrivals, req });
    });
    req.on('error', reject);
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      streams: { type: 'string', default: '500' },
      'idle-s': { type: 'string', default: '10' },
      events: { type: 'string', default: '300' },
      rate: { type: 'string', default: '30' },
      repo: { type: 'string', default: path.resolve(__dirname, '..') },
    },
  });
  const N = Number(values.streams);
  const idleS = Number(values['idle-s']);
  const events = Number(values.events);
  const rate = Number(values.rate);
  const repo = path.resolve(values.repo!);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-bench-sse-'));
  const [pgPort, redisPort, temporalPort, apiPort] = await freePorts(4);
  const stops: (() => Promise<unknown>)[] = [];
  const streams: Stream[] = [];
  try {
    const [pg, redis, temporal] = await Promise.all([
      startPostgres({
        dataDir: path.join(root, 'pg'),
        port: pgPort!,
        fast: true,
        logDir: path.join(root, 'logs'),
        settings: { shared_preload_libraries: 'pg_stat_statements', max_connections: '200', 'pg_stat_statements.max': '1000' },
      }),
      startRedis({ port: redisPort!, dir: path.join(root, 'redis'), logDir: path.join(root, 'logs') }),
      startTemporal({ port: temporalPort!, logDir: path.join(root, 'logs') }),
    ]);
    stops.push(pg.stop, redis.stop, temporal.stop);
    await migrate(pg.url);
    const db = new Pool({ connectionString: pg.url, max: 2 });
    db.on('error', () => undefined); // Postgres stopping at the end
    stops.unshift(() => db.end());
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const user = await createUser(db, 'premium', 'bench-sse');
    const jobIds = Array.from({ length: N }, () => crypto.randomUUID());
    await db.query(
      `INSERT INTO jobs (id, user_id, tier, status, model) SELECT unnest($1::uuid[]), $2, 'premium', 'running', 'whisper-tiny.en'`,
      [jobIds, user.userId],
    );

    const apiLog = fs.openSync(path.join(root, 'logs', 'api.log'), 'a');
    const api = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'api', 'main.ts')], {
      cwd: repo,
      env: {
        ...process.env,
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        TEMPORAL_ADDRESS: temporal.address,
        API_HOST: '127.0.0.1',
        API_PORT: String(apiPort),
        BLOB_DIR: path.join(root, 'blobs'),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', apiLog, apiLog],
    });
    const apiExited = new Promise((r) => api.once('exit', r));
    stops.unshift(async () => {
      api.kill('SIGTERM');
      await apiExited;
    });
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    for (let t = Date.now(); !(await fetch(`${apiUrl}/healthz`).then((r) => r.ok, () => false)); ) {
      if (Date.now() - t > 120_000 || api.exitCode !== null) throw new Error(`API did not start; see ${root}/logs/api.log`);
      await sleep(200);
    }
    const rev = await new Promise<string>((resolve) => {
      const git = spawn('git', ['-C', repo, 'log', '-1', '--format=%h %s'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      git.stdout.on('data', (d) => (out += d));
      git.on('exit', () => resolve(out.trim().slice(0, 70) || 'not a git checkout'));
    });
    console.log(`bench:sse — API from ${repo} (${rev}); ${N} streams; load ${loadNow()}`);

    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    for (let i = 0; i < N; i += 50) {
      streams.push(...(await Promise.all(jobIds.slice(i, i + 50).map((id) => openStream(apiUrl, user.apiKey, id, agent)))));
    }
    await sleep(2_000); // every stream's first read done

    // 1. idle
    const idle0 = await statementCount(db);
    const tIdle = performance.now();
    await sleep(idleS * 1000);
    const idle1 = await statementCount(db);
    const idleSecs = (performance.now() - tIdle) / 1000;
    console.log(
      `idle   ${N} streams, ${idleS} s: ${((idle1.all - idle0.all) / idleSecs).toFixed(1)} statements/s ` +
        `(${((idle1.jobEventReads - idle0.jobEventReads) / idleSecs).toFixed(1)} reads of job_events/s)`,
    );

    // 2. events at a steady rate into random jobs
    const byJob = new Map(streams.map((s) => [s.jobId, s]));
    const sent: { id: number; jobId: string; t0: number }[] = [];
    const ev0 = await statementCount(db);
    const tEv = performance.now();
    for (let k = 0; k < events; k++) {
      const due = tEv + (k * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const jobId = jobIds[Math.floor(Math.random() * N)]!;
      const t0 = performance.now();
      const { rows } = await db.query(`INSERT INTO job_events (job_id, type, data) VALUES ($1, 'progress', $2) RETURNING id`, [
        jobId,
        { chunksDone: k, chunksTotal: events },
      ]);
      sent.push({ id: Number(rows[0].id), jobId, t0 });
    }
    const deadline = Date.now() + 30_000;
    while (sent.some((e) => !byJob.get(e.jobId)!.arrivals.has(e.id)) && Date.now() < deadline) await sleep(20);
    const ev1 = await statementCount(db);
    const evSecs = (performance.now() - tEv) / 1000;
    const lat = sent.filter((e) => byJob.get(e.jobId)!.arrivals.has(e.id)).map((e) => byJob.get(e.jobId)!.arrivals.get(e.id)! - e.t0);
    lat.sort((a, b) => a - b);
    console.log(
      `events ${sent.length} at ${rate}/s: ${((ev1.all - ev0.all) / evSecs).toFixed(1)} statements/s ` +
        `(${((ev1.jobEventReads - ev0.jobEventReads) / evSecs).toFixed(1)} reads of job_events/s); latency ms ` +
        `p50 ${percentile(lat, 50).toFixed(1)}, p95 ${percentile(lat, 95).toFixed(1)}, max ${lat[lat.length - 1]?.toFixed(1)}; ` +
        `${sent.length - lat.length} not delivered within 30 s`,
    );
  } finally {
    for (const s of streams) s.req.destroy();
    for (const stop of stops) await stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
