/**
 * Host utilisation for the metrics: CPU from the kernel's per-core tick counters (os.cpus()), GPU from
 * `nvidia-smi` where an NVIDIA driver is installed (it ships with the driver, so no extra library;
 * NVML bindings for Node are unmaintained). Without a GPU the GPU list is empty.
 */
import { execFile } from 'node:child_process';
import * as os from 'node:os';

let last: { busy: number; total: number } | null = null;

function cpuTicks(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/** The host's CPU busy fraction (0..1, all cores) since the previous call; since boot on the first. */
export function sampleCpuBusy(): number {
  const now = cpuTicks();
  const prev = last ?? { busy: 0, total: 0 };
  last = now;
  const dt = now.total - prev.total;
  return dt > 0 ? Math.min(1, Math.max(0, (now.busy - prev.busy) / dt)) : 0;
}

/** Parses `nvidia-smi --query-gpu=index,utilization.gpu --format=csv,noheader,nounits` output. */
export function parseNvidiaSmi(out: string): { index: string; utilisation: number }[] {
  return out
    .split('\n')
    .map((l) => l.split(',').map((x) => x.trim()))
    .filter((f) => f.length >= 2 && f[0] !== '' && Number.isFinite(Number(f[1])))
    .map(([index, util]) => ({ index, utilisation: Number(util) / 100 }));
}

let noNvidiaSmi = false;
const NVIDIA_SMI_TIMEOUT_MS = 1_500;

/** Utilisation (0..1) of each NVIDIA GPU; [] without nvidia-smi (checked once) or when it fails. */
export function sampleGpus(): Promise<{ index: string; utilisation: number }[]> {
  if (noNvidiaSmi) return Promise.resolve([]);
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=index,utilization.gpu', '--format=csv,noheader,nounits'],
      { timeout: NVIDIA_SMI_TIMEOUT_MS },
      (err, stdout) => {
        if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') noNvidiaSmi = true;
        resolve(err ? [] : parseNvidiaSmi(stdout));
      },
    );
  });
}
