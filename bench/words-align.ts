/**
 * `npm run -s bench:words-align [-- --models whisper-tiny.en,whisper-base --threads 2 --help]`
 *
 * The alignment alone, ours against faster-whisper 1.1.0, on the SAME windows and text tokens: our engine
 * (engine/node-loader.ts, greedy T = 0, word timestamps on) transcribes eval:words' long-form files (bench/long-form.ts,
 * with and without pauses); every window it aligned is recorded (its place, its text tokens, our word times from
 * engine/timing.ts findAlignment before add_word_timestamps' heuristics); faster-whisper aligns the same windows and
 * tokens with its own features, encoder and CTranslate2 `align` (bench/peers/faster_whisper_align.py, int8 on the original
 * CT2 weights). The words pair one to one (same tokens), so the differences are the alignment's (cross-attention
 * numerics of the two int8 models, features), with no transcript or window differences in them, which eval:words
 * cannot separate. Prints per file the median and 95th percentile of |Δstart| and |Δend| and the count over 0.3 s.
 * Measured (#16, 2026-12-07, tiny.en int8, load 19): 1326 words, median 0.000 / 0.000 s, p95 0.040 / 0.040 s, 9 over
 * 0.3 s (eval:words on the same files, where each engine decodes its own text and windows: p95 0.20–0.87 s).
 * Needs `bash bench/setup-peers.sh` once. Times are seconds.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config';
import { loadWhisper } from '../engine/node-loader';
import type { WindowRequest, WindowResult } from '../engine/transcriber';
import { buildLongForm, decodePcm } from './long-form';
import { BENCH_CACHE, VENV_PYTHON, loadNow, median, pad, padStart, percentile } from './lib';

interface Timing {
  word: string;
  start: number;
  end: number;
}


async function main() {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      threads: { type: 'string', default: '2' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run -s bench:words-align -- [--models a,b] [--threads N]');
    return;
  }
  const threads = Number(values.threads);
  const config = loadConfig();
  const audioDir = path.join(config.modelsDir, '..', 'audio');
  if (!fs.existsSync(VENV_PYTHON)) throw new Error(`no venv at ${VENV_PYTHON}: bash bench/setup-peers.sh`);
  const refs = fs
    .readdirSync(audioDir)
    .filter((f) => /\.(wav|flac|mp3|ogg|m4a)$/i.test(f))
    .sort()
    .map((f) => ({ name: f, samples: decodePcm(path.join(audioDir, f)) }));
  const long = buildLongForm(refs, 300);
  const files = [
    { name: 'long, pauses', samples: long.withPauses.samples },
    { name: 'long, no pauses', samples: long.noPauses.samples },
  ];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'words-align-'));
  console.log(`bench:words-align  ours vs faster-whisper on the same windows and text tokens, threads ${threads}; load ${loadNow()}`);
  for (const model of values.models!.split(',')) {
    const engine = await loadWhisper(path.join(config.modelsDir, model), { threads, executionProvider: 'cpu' });
    const peerFiles: { name: string; pcm: string; windows: { start: number; length: number; tokens: number[] }[] }[] = [];
    const ours: Timing[][][] = [];
    for (const [i, f] of files.entries()) {
      const samples = f.samples.slice();
      const pcm = path.join(tmp, `${i}.f32`);
      fs.writeFileSync(pcm, Buffer.from(samples.buffer));
      const windows: { start: number; length: number; tokens: number[] }[] = [];
      const aligned: Timing[][] = [];
      // record each aligned window (the bench's own instrumentation, as bench:words wraps the model)
      const t = engine as unknown as { runWindows: (r: WindowRequest[]) => Promise<WindowResult[]> };
      const run = t.runWindows.bind(engine);
      t.runWindows = async (reqs) => {
        const r = await run(reqs);
        reqs.forEach((q, k) => {
          const a = r[k].alignment;
          if (!a || a.length === 0) return;
          windows.push({
            start: (q.samples.byteOffset - samples.byteOffset) / 4,
            length: q.samples.length,
            tokens: a.flatMap((w) => w.tokens).filter((id) => id < engine.model.vocab.eot),
          });
          aligned.push(a.map((w) => ({ word: w.word, start: w.start, end: w.end })));
        });
        return r;
      };
      await engine.transcribe(samples, { language: 'en', fallback: false, wordTimestamps: true });
      t.runWindows = run;
      peerFiles.push({ name: String(i), pcm, windows });
      ours.push(aligned);
    }
    await engine.model.release();
    const fw = spawnSync(
      VENV_PYTHON,
      [path.join(__dirname, 'peers', 'faster_whisper_align.py'), JSON.stringify({ ct2Dir: path.join(BENCH_CACHE, 'ct2', model), threads, files: peerFiles })],
      { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, HF_HUB_OFFLINE: '1' } },
    );
    if (fw.status !== 0) throw new Error(`faster-whisper failed: ${fw.stderr.split('\n').slice(-5).join(' ')}`);
    const theirs = fw.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; windows: Timing[][] });
    console.log('');
    console.log(model);
    const head = `${pad('file', 20)}${padStart('windows', 9)}${padStart('words', 7)}${padStart('med|Δs|', 9)}${padStart('p95|Δs|', 9)}${padStart('med|Δe|', 9)}${padStart('p95|Δe|', 9)}${padStart('> 0.3 s', 9)}`;
    console.log(head);
    const allS: number[] = [];
    const allE: number[] = [];
    files.forEach((f, i) => {
      const ds: number[] = [];
      const de: number[] = [];
      const fwWindows = theirs.find((x) => x.name === String(i))!.windows;
      ours[i].forEach((a, w) => {
        const b = fwWindows[w];
        if (a.length !== b.length || a.some((x, k) => x.word !== b[k].word)) throw new Error(`${f.name} window ${w}: the words differ`);
        a.forEach((x, k) => {
          ds.push(Math.abs(x.start - b[k].start));
          de.push(Math.abs(x.end - b[k].end));
        });
      });
      allS.push(...ds);
      allE.push(...de);
      const over = ds.filter((d, k) => Math.max(d, de[k]) > 0.3).length;
      console.log(
        `${pad(f.name, 20)}${padStart(String(ours[i].length), 9)}${padStart(String(ds.length), 7)}${padStart(median(ds).toFixed(3), 9)}` +
          `${padStart(percentile(ds, 95).toFixed(3), 9)}${padStart(median(de).toFixed(3), 9)}${padStart(percentile(de, 95).toFixed(3), 9)}${padStart(String(over), 9)}`,
      );
    });
    console.log(
      `${model}: ${allS.length} words, median |Δstart| ${median(allS).toFixed(3)} s, |Δend| ${median(allE).toFixed(3)} s; ` +
        `p95 |Δstart| ${percentile(allS, 95).toFixed(3)} s, |Δend| ${percentile(allE, 95).toFixed(3)} s`,
    );
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`load at end ${loadNow()}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
