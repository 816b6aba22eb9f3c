/**
 * `npx tsx bench/admission.ts [--callers 200] [--rounds 1] [--file F | --flac] [--refused N]`: how long
 * one admission takes (POST /v1/jobs → 202: upload, probe, job + ledger rows, the Redis reservation,
 * the workflow start) while `--callers` clients submit at once. Not part of CI.
 * The file: a 44 KB MP3 made from jfk.flac (default), `--flac` jfk.flac itself (11 s, 1.15 MB), or `--file`.
 * `--refused N` adds N callers in the same round whose user already holds its one concurrency slot:
 * each is refused (429), and their latency is reported on its own line.
 *
 * It starts its own Postgres, Redis and Temporal in a temporary directory (never the `npm start`
 * stack) and the API in this process, without workers: the admitted workflows wait in their task queue
 * and are thrown away with the services, so inference never competes with admission for the CPUs. A
 * premium user under a tier table with no daily limit and very high concurrency and rate limits is
 * admitted every time, so what is measured is the admission path, not a refusal.
 * Each round: `--callers` submissions started together; latency = request start → response read; CPU
 * = this process and the probes it ran (not Postgres, Redis or Temporal), divided by the submissions.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startApi } from '../api/server';
import { loadConfig, REPO_ROOT } from '../common/config';
import { openDeps } from '../common/deps';
import { createUser } from '../common/keys';
import { DEFAULT_TIERS } from '../common/tiers';
import { startAll } from '../infra/services';

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/**
 * CPU seconds used so far by this process (API, Postgres client, Redis client: everything but the
 * services) and by its children that have exited (ffprobe / ffmpeg probes), from /proc/self/stat
 * (utime, stime, cutime, cstime in clock ticks; proc(5)). Linux only; NaN elsewhere.
 */
function cpuSeconds(): number {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return ticks / hz;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds used so far by this process and every process below it (Postgres with its backends,
 * Redis, the Temporal dev server, probes), from /proc/<pid>/stat (utime, stime, cutime, cstime of each
 * live descendant; ours as in cpuSeconds). The whole stack's cost of an admission, on this machine.
 */
function stackCpuSeconds(): number {
  try {
    const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const parent = new Map<number, number>();
    const ticks = new Map<number, number>();
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        parent.set(Number(name), Number(f[1]));
        ticks.set(Number(name), Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
      } catch {
        // gone meanwhile
      }
    }
    let total = 0;
    for (const [pid, t] of ticks) {
      for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p)) {
        if (p === process.pid) {
          total += t;
          break;
        }
      }
    }
    return total / hz;
  } catch {
    return NaN;
  }
}

function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

async function main() {
  const { values } = parseArgs({
    options: {
      callers: { type: 'string', default: '200' },
      rounds: { type: 'string', default: '1' },
      file: { type: 'string' },
      flac: { type: 'boolean', default: false },
      refused: { type: 'string', default: '0' },
    },
  });
  const callers = Number(values.callers);
  const rounds = Number(values.rounds);
  const refusedCallers = Number(values.refused);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-bench-admission-'));
  const services = await startAll({ root, fresh: true, fast: true });
  try {
    let file = values.file ?? (values.flac ? path.resolve(REPO_ROOT, '..', 'shared', 'audio', 'jfk.flac') : undefined);
    if (!file) {
      file = path.join(root, 'jfk.mp3');
      const jfk = path.resolve(REPO_ROOT, '..', 'shared', 'audio', 'jfk.flac');
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', jfk, '-ac', '1', '-ar', '16000', '-b:a', '32k', file]);
    }
    const tiers = structuredClone(DEFAULT_TIERS);
    Object.assign(tiers.premium, { dailySeconds: null, concurrentJobs: 1_000_000, requestsPerMinute: 1_000_000 });
    // The refused callers' user: one slot, which its first job holds (no workers: it never ends).
    Object.assign(tiers.standard, { dailySeconds: null, concurrentJobs: 1, requestsPerMinute: 1_000_000 });
    const tiersFile = path.join(root, 'tiers.json');
    fs.writeFileSync(tiersFile, JSON.stringify(tiers));
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: services.pg.url,
      REDIS_URL: services.redis.url,
      TEMPORAL_ADDRESS: services.temporal.address,
      BLOB_DIR: path.join(root, 'blobs'),
      API_PORT: '0',
      FAIRSCRIBE_TIERS_FILE: tiersFile,
      LOG_LEVEL: 'warn',
    });
    const deps = await openDeps(config);
    const api = await startApi(config, deps);
    try {
      const { apiKey } = await createUser(deps.pool, 'premium', 'bench');
      const { apiKey: fullKey } = await createUser(deps.pool, 'standard', 'bench-full');
      const data = fs.readFileSync(file);
      const name = path.basename(file);
      const submit = async (key = apiKey): Promise<{ ms: number; status: number }> => {
        const form = new FormData();
        form.append('file', new Blob([data]), name);
        const t0 = performance.now();
        const res = await fetch(`${api.url}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
        await res.arrayBuffer();
        return { ms: performance.now() - t0, status: res.status };
      };
      // Warm-up: connections, the scripts' first EVAL, JIT.
      for (let i = 0; i < 5; i++) await submit();
      if (refusedCallers > 0) {
        const first = await submit(fullKey);
        if (first.status !== 202) throw new Error(`the refused callers' first job was not admitted: ${first.status}`);
      }

      console.log(`admission under ${callers} concurrent callers, ${rounds} round(s), file ${name} (${data.length} bytes), ${os.cpus().length} CPUs`);
      const all: number[] = [];
      let admitted = 0;
      let total = 0;
      const statuses: Record<number, number> = {};
      for (let r = 1; r <= rounds; r++) {
        const cpu0 = cpuSeconds();
        const stack0 = stackCpuSeconds();
        const t0 = performance.now();
        const refusing = Promise.all(Array.from({ length: refusedCallers }, () => submit(fullKey)));
        const results = await Promise.all(Array.from({ length: callers }, () => submit()));
        const wall = (performance.now() - t0) / 1000;
        const refusals = await refusing;
        const cpu = cpuSeconds() - cpu0;
        const stackCpu = stackCpuSeconds() - stack0;
        const ok = results.filter((x) => x.status === 202);
        for (const x of results) statuses[x.status] = (statuses[x.status] ?? 0) + 1;
        const ms = ok.map((x) => x.ms).sort((a, b) => a - b);
        all.push(...ms);
        admitted += ok.length;
        total += results.length;
        console.log(
          `round ${r}: ${ok.length}/${results.length} admitted in ${wall.toFixed(1)} s (${(results.length / wall).toFixed(1)}/s); ` +
            `median ${median(ms).toFixed(0)} ms, p95 ${quantile(ms, 0.95).toFixed(0)} ms, min ${ms[0]?.toFixed(0)} ms, max ${ms.at(-1)?.toFixed(0)} ms; ` +
            `CPU ${cpu.toFixed(1)} s (API process + its probes), ${((cpu * 1000) / (results.length + refusals.length)).toFixed(0)} ms per upload; ` +
            `whole stack (+ Postgres, Redis, Temporal) ${stackCpu.toFixed(1)} s, ${((stackCpu * 1000) / (results.length + refusals.length)).toFixed(0)} ms per upload ` +
            `(= ${(stackCpu / os.cpus().length).toFixed(1)} s of ${os.cpus().length} CPUs); load average ${os.loadavg().map((x) => x.toFixed(0)).join(' ')}`,
        );
        if (refusals.length) {
          const rms = refusals.map((x) => x.ms).sort((a, b) => a - b);
          const codes: Record<number, number> = {};
          for (const x of refusals) codes[x.status] = (codes[x.status] ?? 0) + 1;
          console.log(
            `round ${r} refusals: ${refusals.length} (statuses ${JSON.stringify(codes)}); ` +
              `median ${median(rms).toFixed(0)} ms, p95 ${quantile(rms, 0.95).toFixed(0)} ms, max ${rms.at(-1)?.toFixed(0)} ms`,
          );
        }
      }
      all.sort((a, b) => a - b);
      console.log(
        `all rounds: ${admitted}/${total} admitted (statuses ${JSON.stringify(statuses)}); ` +
          `median ${median(all).toFixed(0)} ms, p95 ${quantile(all, 0.95).toFixed(0)} ms`,
      );
      // Sequential, for comparison: one admission with nobody else waiting.
      const alone: number[] = [];
      for (let i = 0; i < 20; i++) alone.push((await submit()).ms);
      alone.sort((a, b) => a - b);
      console.log(`alone (20 sequential): median ${median(alone).toFixed(0)} ms, p95 ${quantile(alone, 0.95).toFixed(0)} ms`);
      if (refusedCallers > 0) {
        const refusedAlone: number[] = [];
        for (let i = 0; i < 20; i++) refusedAlone.push((await submit(fullKey)).ms);
        refusedAlone.sort((a, b) => a - b);
        console.log(`refusals alone (20 sequential): median ${median(refusedAlone).toFixed(0)} ms, p95 ${quantile(refusedAlone, 0.95).toFixed(0)} ms`);
      }
    } finally {
      await api.close();
      await deps.close();
    }
  } finally {
    await services.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
