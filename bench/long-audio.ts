/**
 * `npx tsx bench/long-audio.ts [--hours 1,6,12] [--block-seconds 30] [--model M] [--env K=V,…] [--json]` (`--help`)
 *
 * Long files in bounded memory (issue 18): for each length, a FLAC of silence with jfk's 11 s of speech
 * at its start, its middle and its end (16 kHz mono; a 12 h file is about 1 MB) goes through the real
 * stack — API upload and probe, the orchestration worker's preparation (ffmpeg → 2.8 GB of PCM at 12 h,
 * streamed, never read whole), the CPU worker's chunks — to `completed`. Each length gets a fresh stack
 * (bench/stack.ts: services on free ports, API and workers as separate processes), so each peak RSS
 * (the kernel's high-water mark) belongs to that length alone. Fails (exit 1) when a job does not
 * complete or a process peaks at 1 GB or more. The files are made once under $TMPDIR and kept.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadNow } from './lib';
import { MB, startBenchStack, submitJob, waitJob, type ProcName } from './stack';

const JFK = path.resolve(__dirname, '../../shared/audio/jfk.wav');
const SPEECH_S = 11;
const LIMIT_BYTES = 1024 * MB;

/** Silence with jfk at the start, the middle and the end; `hours` long less one second (premium allows 12 h). */
function makeFile(hours: number): string {
  const dir = path.join(os.tmpdir(), 'fairscribe-long-audio');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `silence-${hours}h.flac`);
  if (fs.existsSync(file)) return file;
  const total = hours * 3600 - 1;
  const gap = (total - 3 * SPEECH_S) / 2;
  const tmp = `${file}.part.flac`;
  execFileSync('ffmpeg', [
    '-v', 'error', '-y',
    '-i', JFK,
    '-f', 'lavfi', '-t', gap.toFixed(3), '-i', 'anullsrc=r=16000:cl=mono',
    '-i', JFK,
    '-f', 'lavfi', '-t', gap.toFixed(3), '-i', 'anullsrc=r=16000:cl=mono',
    '-i', JFK,
    '-filter_complex', '[0:a][1:a][2:a][3:a][4:a]concat=n=5:v=0:a=1',
    '-ar', '16000', '-ac', '1', '-c:a', 'flac', tmp,
  ]);
  fs.renameSync(tmp, file);
  return file;
}

interface Row {
  hours: number;
  fileMB: number;
  seconds: number;
  status: string;
  error?: unknown;
  audioSeconds: number;
  chunks: number;
  text: string;
  peakRssMB: Record<ProcName, number>;
  ffmpegPeakMB: Record<ProcName, number>;
}

async function main() {
  if (process.argv.includes('--help')) {
    console.log(`Usage: npm run -s bench:long-audio -- [--hours 1,6,12] [--block-seconds 30] [--model whisper-tiny.en] [--env K=V,...] [--json]
  For each length (hours), a FLAC of silence with jfk's 11 s at its start, middle and end goes through a fresh local
  stack (API, orchestration worker, CPU worker as separate processes) to \`completed\`; prints the time and each
  process's peak RSS (VmHWM). Exit 1 when a job fails or a process peaks at 1 GB or more.
  --block-seconds  PCM_READ_BLOCK_SECONDS for the stack (preparation's and the chunk reads' block)
  --model          the job's model (default whisper-tiny.en)
  --env            extra worker settings, e.g. WHISPER_MODELS_DIR=…,BATCH_MAX=8
  --json           one JSON object instead of the table`);
    process.exit(0);
  }
  const { values } = parseArgs({
    options: {
      hours: { type: 'string', default: '1,6,12' },
      'block-seconds': { type: 'string', default: '' },
      model: { type: 'string', default: 'whisper-tiny.en' },
      env: { type: 'string', default: '' },
      json: { type: 'boolean', default: false },
    },
  });
  const rows: Row[] = [];
  const env: Record<string, string> = Object.fromEntries(
    values.env!.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  if (values['block-seconds']) env.PCM_READ_BLOCK_SECONDS = values['block-seconds'];
  for (const hours of values.hours!.split(',').map(Number)) {
    const file = makeFile(hours);
    const stack = await startBenchStack(env, `long-${hours}h`);
    try {
      const t0 = performance.now();
      const id = await submitJob(stack.apiUrl, stack.apiKey, file, { language: 'en', model: values.model! });
      const job = await waitJob(stack.apiUrl, stack.apiKey, id, 60 * 60_000, 500);
      const seconds = (performance.now() - t0) / 1000;
      const toMB = (r: Record<ProcName, number>) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v / MB)])) as Record<ProcName, number>;
      rows.push({
        hours,
        fileMB: fs.statSync(file).size / 1e6,
        seconds,
        status: job.status,
        error: job.error,
        audioSeconds: job.audioSeconds,
        chunks: job.progress?.chunksTotal ?? 0,
        text: String(job.text ?? ''),
        peakRssMB: toMB(stack.peakRss()),
        ffmpegPeakMB: toMB(stack.childPeakRss()),
      });
      const r = rows[rows.length - 1];
      if (!values.json) {
        console.log(
          `${hours} h: ${r.status} in ${seconds.toFixed(1)} s (audio ${r.audioSeconds} s, ${r.chunks} chunks, file ${r.fileMB.toFixed(1)} MB); ` +
            `peak RSS MB ${JSON.stringify(r.peakRssMB)}; ffmpeg children ${JSON.stringify(r.ffmpegPeakMB)}; load ${loadNow()}`,
        );
        if (r.status !== 'completed') console.log(`  error: ${JSON.stringify(r.error)}`);
      }
    } finally {
      await stack.stop();
    }
  }
  const over = rows.filter((r) => r.status !== 'completed' || Object.values(r.peakRssMB).some((v) => v * MB >= LIMIT_BYTES));
  if (values.json) console.log(JSON.stringify({ rows, ok: over.length === 0 }, null, 2));
  else {
    console.log('\n| length | time to completed | audioSeconds | chunks | API peak RSS | orchestration worker | CPU worker | ffmpeg (largest) |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const f = Math.max(...Object.values(r.ffmpegPeakMB));
      console.log(
        `| ${r.hours} h | ${r.seconds.toFixed(1)} s (${r.status}) | ${r.audioSeconds} | ${r.chunks} | ${r.peakRssMB.api} MB | ${r.peakRssMB.orchestration} MB | ${r.peakRssMB['cpu-worker']} MB | ${f} MB |`,
      );
    }
    console.log(over.length ? `\nFAIL: ${over.map((r) => `${r.hours} h`).join(', ')}` : '\nOK: every job completed, every process under 1 GB');
  }
  process.exit(over.length ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
