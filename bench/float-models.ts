/**
 * `npm run -s bench:float-models -- --float-dir DIR [--models whisper-tiny.en,whisper-base] [--threads 2]`
 *
 * The CPU check of the float graphs that infra/models/dequantize.py makes for GPU workers: every recording of
 * ../shared/audio (jfk.wav, jfk.flac, each channel of stereo_diarization.wav) through our engine
 * (engine/node-loader.ts, the loader the workers use) with the shipped int8 graphs and with the float graphs of
 * the same model, greedy at temperature 0 (no fallback sampling, so nothing random differs), English. Prints both
 * texts when they differ, the WER of each against the reference (test/helpers/wer.ts) and the time per clip. fp16 graphs are tried too; onnxruntime's CPU provider lacks fp16 kernels
 * for some of their ops, in which case the line says so (they are for the CUDA provider).
 *
 * Exit code 1 when an fp32 text differs from the int8 text, so the check can gate a script.
 * Make DIR first: `~/.cache/fairscribe/dequant-venv/bin/python infra/models/dequantize.py --dest DIR` (docs/deploy.md).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { SAMPLE_RATE } from '../engine/constants';
import type { Precision } from '../engine/files';
import { hasGraphs } from '../engine/precision';
import { loadWhisper } from '../engine/node-loader';
import { wer } from '../test/helpers/wer';
import { loadNow, pad, padStart } from './lib';

const AUDIO = path.resolve(__dirname, '../../shared/audio');
const MODELS = path.resolve(__dirname, '../../shared/models');
const JFK = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';
const LEFT = 'He began a confused complaint against the wizard, who had vanished behind the curtain on the left.';
const RIGHT = 'The horizon seems extremely distant.';

interface Clip {
  name: string;
  samples: Float32Array;
  reference: string;
}

function clips(dir: string): Clip[] {
  const stereo = path.join(AUDIO, 'stereo_diarization.wav');
  const make = (name: string, reference: string, args: string[]): Clip => {
    const out = path.join(dir, `${name.replace(/\W+/g, '_')}.f32`);
    execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, '-ac', '1', '-ar', String(SAMPLE_RATE), '-f', 'f32le', out]);
    const buf = fs.readFileSync(out);
    return { name, reference, samples: new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice() };
  };
  return [
    make('jfk.wav', JFK, ['-i', path.join(AUDIO, 'jfk.wav')]),
    make('jfk.flac', JFK, ['-i', path.join(AUDIO, 'jfk.flac')]),
    make('stereo left', LEFT, ['-i', stereo, '-af', 'pan=mono|c0=c0']),
    make('stereo right', RIGHT, ['-i', stereo, '-af', 'pan=mono|c0=c1']),
  ];
}

interface Run {
  text: string;
  ms: number;
}

async function transcribeAll(modelDir: string, precision: Precision, threads: number, all: Clip[]): Promise<Run[] | string> {
  let t;
  try {
    t = await loadWhisper(modelDir, { threads, executionProvider: 'cpu', precision });
  } catch (err) {
    return (err as Error).message.split('\n')[0]!.slice(0, 160);
  }
  const runs: Run[] = [];
  try {
    for (const c of all) {
      const t0 = performance.now();
      const r = await t.transcribe(c.samples, { language: 'en', fallback: false });
      runs.push({
        text: r.segments.map((s) => s.text).join(' ').trim(),
        ms: performance.now() - t0,
      });
    }
  } catch (err) {
    return (err as Error).message.split('\n')[0]!.slice(0, 160);
  } finally {
    await t.model.release();
  }
  return runs;
}

async function main() {
  const { values } = parseArgs({
    options: {
      'float-dir': { type: 'string' },
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      threads: { type: 'string', default: '2' },
    },
  });
  const floatDir = values['float-dir'];
  if (!floatDir) throw new Error('--float-dir DIR (made by infra/models/dequantize.py) is required');
  const threads = Number(values.threads);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-float-'));
  let fp32Differs = false;
  try {
    const all = clips(tmp);
    console.log(`float-models — ${all.length} clips from ../shared/audio, CPU, ${threads} threads, temperature 0; load ${loadNow()}`);
    for (const model of values.models!.split(',')) {
      const dir = path.join(floatDir, model);
      const int8 = await transcribeAll(path.join(MODELS, model), 'int8', threads, all);
      if (typeof int8 === 'string') throw new Error(`${model} int8: ${int8}`);
      console.log(`\n${model}`);
      console.log(`  ${pad('clip', 14)} ${pad('graphs', 6)} ${padStart('ms', 7)} ${padStart('WER', 6)}  text / same as int8`);
      const show = (c: Clip, label: string, r: Run, same: string) =>
        console.log(`  ${pad(c.name, 14)} ${pad(label, 6)} ${padStart(r.ms.toFixed(0), 7)} ${padStart((100 * wer(c.reference, r.text)).toFixed(1), 6)}  ${same}`);
      all.forEach((c, i) => show(c, 'int8', int8[i]!, JSON.stringify(int8[i]!.text)));
      for (const precision of ['fp32', 'fp16'] as const) {
        if (!hasGraphs(dir, precision)) {
          console.log(`  ${pad('', 14)} ${pad(precision, 6)} no ${precision} graphs in ${dir}`);
          if (precision === 'fp32') fp32Differs = true;
          continue;
        }
        const runs = await transcribeAll(dir, precision, threads, all);
        if (typeof runs === 'string') {
          console.log(`  ${pad('', 14)} ${pad(precision, 6)} cannot run on the CPU provider: ${runs}`);
          if (precision === 'fp32') fp32Differs = true;
          continue;
        }
        all.forEach((c, i) => {
          const r = runs[i]!;
          const sameText = r.text === int8[i]!.text;
          if (precision === 'fp32' && !sameText) fp32Differs = true;
          show(c, precision, r, sameText ? 'same text' : `DIFFERS: ${JSON.stringify(r.text)}`);
        });
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(fp32Differs ? '\nfp32 text differs from int8 (or fp32 missing) on some clip' : '\nfp32 text = int8 text on every clip');
  process.exit(fp32Differs ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
