/**
 * A local fairscribe for benchmarks: Postgres, Redis and Temporal (infra/services.ts) on free ports
 * under a temporary root — never the dev stack's default ports — and the API, the orchestration worker
 * and the CPU inference worker as three separate Node processes (their entry points, as deployed), so
 * each one's memory is its own. Peak RSS is the kernel's high-water mark (`VmHWM` in
 * /proc/<pid>/status, Linux); ffmpeg children of a process are sampled every 200 ms and kept apart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { REPO_ROOT } from '../common/config';
import { BACKEND_TASK_QUEUE, TASK_QUEUES } from '../common/constants';
import { createPool, migrate } from '../common/db';
import { createUser } from '../common/keys';
import { freePort, startAll, type Services } from '../infra/services';

export type ProcName = 'api' | 'orchestration' | 'cpu-worker';

const ENTRY: Record<ProcName, string> = {
  api: 'api/main.ts',
  orchestration: 'workers/orchestration.ts',
  'cpu-worker': 'workers/cpu.ts',
};

export interface BenchStack {
  apiUrl: string;
  apiKey: string;
  temporalAddress: string;
  /** the stack's Postgres (chunk_results, jobs) */
  databaseUrl: string;
  root: string;
  blobDir: string;
  /** peak RSS so far per process, bytes (the kernel's VmHWM) */
  peakRss(): Record<ProcName, number>;
  /** the largest RSS seen of any child (ffmpeg) of each process, bytes */
  childPeakRss(): Record<ProcName, number>;
  /**
   * CPU seconds (user + system) used so far by each process with its live descendants: our three, and the
   * services (Temporal, Postgres with its backends, Redis). Two snapshots around a job say which process
   * took the cores while the job ran.
   */
  cpuSeconds(): Record<string, number>;
  stop(): Promise<void>;
}

/** Peak and current resident set size of a process, bytes; null when it is gone. */
export function procMemory(pid: number): { hwm: number; rss: number } | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null;
  }
}

const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts in 1/100 s on Linux

/** CPU seconds (utime + stime) of a process and its live descendants; 0 when it is gone. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // fields 14, 15: utime, stime
    } catch {
      continue;
    }
    stack.push(...childrenOf(p));
  }
  return ticks / CLOCK_TICKS;
}

/** Direct children of a process (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

async function waitForHttp(url: string, timeoutMs: number, proc: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${url} exited (${proc.exitCode}); see ${logFile}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until both workers poll their queues: the orchestration worker its workflow queue, the CPU worker
 * `transcribe-cpu`'s activities. The API routes a job by the queues' live pollers (api/queue-stats.ts), so a job
 * posted while the CPU worker still loads its models goes to the tier's first backend (premium: gpu-reserved), where
 * no bench worker polls, and stays `queued` forever (seen: the 1 h long-audio job on a loaded machine).
 */
async function waitForPollers(address: string, timeoutMs: number): Promise<void> {
  const connection = await Connection.connect({ address });
  const { TaskQueueKind, TaskQueueType } = proto.api.enums.v1;
  const queues = [
    { name: TASK_QUEUES.orchestration, type: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW },
    { name: BACKEND_TASK_QUEUE.cpu, type: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY },
  ];
  const deadline = Date.now() + timeoutMs;
  try {
    for (const q of queues) {
      for (;;) {
        const res = await connection.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: q.name, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: q.type,
        });
        if ((res.pollers ?? []).length > 0) break;
        if (Date.now() > deadline) throw new Error(`no worker polls ${q.name} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await connection.close();
  }
}

/**
 * Starts the stack and returns once the API answers and both workers poll their queues. `env` is added to every Node process's environment (e.g. INFERENCE_CONCURRENCY,
 * BATCH_MAX_WAIT_MS, PCM_READ_BLOCK_SECONDS).
 */
export async function startBenchStack(
  env: Record<string, string> = {},
  tag = 'bench',
  /** Temporal dynamic config values, `key=value` (e.g. `system.enableActivityEagerExecution=true`) */
  temporalDynamicConfig: readonly string[] = [],
): Promise<BenchStack> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `fairscribe-${tag}-`));
  const services: Services = await startAll({ root, fast: true, temporalDynamicConfig });
  const procs = new Map<ProcName, ChildProcess>();
  const childPeak: Record<ProcName, number> = { api: 0, orchestration: 0, 'cpu-worker': 0 };
  const lastHwm: Record<ProcName, number> = { api: 0, orchestration: 0, 'cpu-worker': 0 };
  let sampler: NodeJS.Timeout | undefined;
  const stop = async () => {
    if (sampler) clearInterval(sampler);
    await Promise.all(
      [...procs.values()].map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGTERM');
            setTimeout(() => p.kill('SIGKILL'), 15_000).unref();
          }),
      ),
    );
    await services.stop();
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    await migrate(services.pg.url);
    const pool = createPool(services.pg.url, 2);
    const { apiKey } = await createUser(pool, 'premium', 'bench');
    await pool.end();
    const apiPort = await freePort();
    const blobDir = path.join(root, 'blobs');
    const common: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: services.pg.url,
      REDIS_URL: services.redis.url,
      TEMPORAL_ADDRESS: services.temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      BLOB_DIR: blobDir,
      API_PORT: String(apiPort),
      LOG_LEVEL: 'warn',
      ...env,
    };
    for (const name of Object.keys(ENTRY) as ProcName[]) {
      const logFile = path.join(root, 'logs', `${name}.log`);
      const out = fs.openSync(logFile, 'a');
      // `node --import tsx`, not the tsx CLI: one process per role, so its pid's memory is the role's.
      const p = spawn(process.execPath, ['--import', 'tsx', ENTRY[name]], { cwd: REPO_ROOT, env: common, stdio: ['ignore', out, out] });
      fs.closeSync(out);
      procs.set(name, p);
    }
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitForHttp(`${apiUrl}/healthz`, 120_000, procs.get('api')!, path.join(root, 'logs', 'api.log'));
    await waitForPollers(services.temporal.address, 600_000);
    sampler = setInterval(() => {
      for (const [name, p] of procs) {
        const m = p.pid ? procMemory(p.pid) : null;
        if (m) lastHwm[name] = Math.max(lastHwm[name], m.hwm);
        for (const c of p.pid ? childrenOf(p.pid) : []) childPeak[name] = Math.max(childPeak[name], procMemory(c)?.hwm ?? 0);
      }
    }, 200);
    return {
      apiUrl,
      apiKey,
      temporalAddress: services.temporal.address,
      databaseUrl: services.pg.url,
      root,
      blobDir,
      peakRss() {
        const out = { ...lastHwm };
        for (const [name, p] of procs) {
          const m = p.pid ? procMemory(p.pid) : null;
          if (m) out[name] = Math.max(out[name], m.hwm);
        }
        return out;
      },
      childPeakRss: () => ({ ...childPeak }),
      cpuSeconds() {
        const out: Record<string, number> = {};
        for (const [name, p] of procs) out[name] = p.pid ? treeCpuSeconds(p.pid) : 0;
        out.temporal = treeCpuSeconds(services.temporal.pid);
        out.postgres = treeCpuSeconds(services.pg.pid);
        out.redis = treeCpuSeconds(services.redis.pid);
        return out;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** POSTs a file to /v1/jobs as a streamed multipart body; returns the job id. */
export async function submitJob(apiUrl: string, apiKey: string, file: string, fields: Record<string, string>): Promise<string> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  const res = await fetch(`${apiUrl}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${apiKey}` } });
  const body = (await res.json()) as { id?: string; error?: unknown };
  if (res.status !== 202 || !body.id) throw new Error(`POST /v1/jobs answered ${res.status}: ${JSON.stringify(body)}`);
  return body.id;
}

/** Polls the job every `everyMs` until it ends; returns its JSON. */
export async function waitJob(apiUrl: string, apiKey: string, id: string, timeoutMs: number, everyMs = 100): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${apiUrl}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${apiKey}` } });
    const body = (await res.json()) as Record<string, any>;
    if (['completed', 'failed', 'cancelled', 'expired'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const MB = 1024 * 1024;
