/**
 * Economy routing on windows that hold two languages (issue #17; common/language-routing.ts englishTextDoubted):
 * whisper-tiny.en's greedy signals on 29 s windows of espeak-ng English then German (and German then English)
 * at several split points, against pure English and pure German windows. A chunk can hold both sides of a switch
 * (the planner packs whole spans into ≤ 30 s as faster-whisper's merge_segments does); the English-only model's
 * English text over the German must then be doubted so that the multilingual model decides.
 * Per window: the figures the doubt reads (the window's avg_logprob, the highest per-segment compression ratio),
 * the whole window's text compression ratio (openai transcribe.py `decode_with_fallback` compresses the window's
 * text, windowCompressionRatios), and per segment its seconds, words, characters per second and text; then englishTextDoubted's verdict
 * without and with the whole-window ratio.
 * Run: npx tsx bench/mixed-signals.ts (one thread).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { englishTextDoubted, windowCompressionRatios } from '../common/language-routing';
import { loadWhisper } from '../engine/node-loader';
import { ENGLISH, GERMAN, side } from '../test/helpers/speech-files';
import { readWav } from '../test/helpers/wav';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-mixed-signals-'));
let n = 0;

/** Sentences in one voice, 0.25 s apart, as a 16 kHz wav; its path. */
function say(voice: string, texts: string[]): string {
  const parts = texts.map((t) => {
    const raw = path.join(tmp, `raw-${n++}.wav`);
    execFileSync('espeak-ng', ['-v', voice, '-s', '150', '-w', raw, t]);
    const f = path.join(tmp, `s-${n++}.wav`);
    execFileSync('sox', ['-R', '-D', raw, '-r', '16000', '-c', '1', '-b', '16', f, 'pad', '0', '0.25']);
    return f;
  });
  const out = path.join(tmp, `say-${n++}.wav`);
  execFileSync('sox', [...parts, out]);
  return out;
}

/** `first` trimmed to `firstSeconds`, `gap` seconds of silence, then `second`, the whole trimmed to 29 s. */
function mix(first: string, firstSeconds: number, second: string, gap: number): Float32Array {
  const a = path.join(tmp, `a-${n++}.wav`);
  execFileSync('sox', [first, a, 'trim', '0', String(firstSeconds)]);
  const files = [a];
  if (gap > 0) {
    const g = path.join(tmp, `g-${n++}.wav`);
    execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', g, 'trim', '0', String(gap)]);
    files.push(g);
  }
  const out = path.join(tmp, `m-${n++}.wav`);
  execFileSync('sox', [...files, second, out, 'trim', '0', '29']);
  return readWav(out);
}

(async () => {
  const models = process.env.WHISPER_MODELS_DIR ?? path.resolve(__dirname, '../../shared/models');
  const tiny = await loadWhisper(path.join(models, 'whisper-tiny.en'), { threads: 1, executionProvider: 'cpu' });
  const rot = (a: string[], k: number) => [...a.slice(k), ...a.slice(0, k)];
  const en = say('en', ENGLISH);
  const en2 = say('en-us', rot(ENGLISH, 7));
  const de = say('de', GERMAN);
  const de2 = say('de', rot(GERMAN, 5));
  const real = (file: string, remix = '1'): Float32Array => {
    const out = path.join(tmp, `real-${n++}.wav`);
    execFileSync('sox', [path.resolve(__dirname, '../../shared/audio', file), '-r', '16000', '-b', '16', out, 'remix', remix]);
    return readWav(out);
  };
  const voice = (v: string, speed: number, texts: string[]): Float32Array => {
    const out = path.join(tmp, `v-${n++}.wav`);
    const parts = texts.map((t) => {
      const raw = path.join(tmp, `raw-${n++}.wav`);
      execFileSync('espeak-ng', ['-v', v, '-s', String(speed), '-w', raw, t]);
      const f = path.join(tmp, `s-${n++}.wav`);
      execFileSync('sox', ['-R', '-D', raw, '-r', '16000', '-c', '1', '-b', '16', f, 'pad', '0', '0.25']);
      return f;
    });
    execFileSync('sox', [...parts, out, 'trim', '0', '29']);
    return readWav(out);
  };
  /** the part after the 0.7 s cut of the languages test's German side (test/helpers/speech-files.ts side) */
  const sideTail = (): Float32Array => {
    const d = side(tmp, 'de-tail', 'de', GERMAN, 27, 36);
    const out = path.join(tmp, `tail-${n++}.wav`);
    execFileSync('sox', [...d.files.slice(d.files.findIndex((f) => f.includes('-cut')) + 1), out]);
    return readWav(out);
  };
  const only = process.env.MIXED_ONLY;
  const cases: [string, Float32Array][] = only === 'english' ? [
    ['jfk', real('jfk.wav')],
    ['diarization left', real('stereo_diarization.wav', '1')],
    ['diarization right', real('stereo_diarization.wav', '2')],
    ['en-gb 175', voice('en-gb-x-rp', 175, rot(ENGLISH, 9))],
    ['en 120', voice('en', 120, rot(ENGLISH, 12))],
    ['en-us 150', voice('en-us', 150, rot(ENGLISH, 3))],
  ] : [
    ['en 29', mix(en, 29, en2, 0)],
    ['en-us 29', mix(en2, 29, en, 0)],
    ['de 29', mix(de, 29, de2, 0)],
    ['en 22 | de 7', mix(en, 22, de, 0)],
    ['en 20 | de 9', mix(en, 20, de, 0)],
    ['en 15 | de 14', mix(en, 15, de, 0)],
    ['en 10 | de 19', mix(en2, 10, de2, 0)],
    ['en 20 +1.2 s | de 8', mix(en, 20, de2, 1.2)],
    ['de 10 | en 19', mix(de, 10, en, 0)],
    ['de 5 | en 24', mix(de2, 5, en2, 0)],
    // the German side of test/integration/languages.test.ts after its 0.7 s cut: the planner's last chunk (11.4 s)
    ['de tail 11', sideTail()],
  ];
  const deflate = (b: Uint8Array) => zlib.deflateSync(b).length;
  await tiny.transcribe(cases[0][1].slice(), { language: 'en', fallback: false });
  for (const [name, x] of cases) {
    const r = await tiny.transcribe(x.slice(), { language: 'en', fallback: false });
    const segs = r.segments;
    const ratios = await windowCompressionRatios(segs, deflate);
    const whole = Math.max(0, ...ratios);
    console.log(
      `${name.padEnd(20)} | window lp ${segs[0]?.avgLogprob.toFixed(3)} max seg cr ${Math.max(0, ...segs.map((s) => s.compressionRatio)).toFixed(2)} whole cr ${whole.toFixed(2)} | ` +
        `doubted ${englishTextDoubted(segs)} with whole-window cr ${englishTextDoubted(segs, ratios)}`,
    );
    for (const s of segs) {
      const secs = s.end - s.start;
      const words = s.text.split(/\s+/).filter(Boolean).length;
      console.log(
        `    ${s.start.toFixed(1)}–${s.end.toFixed(1)} lp ${s.avgLogprob.toFixed(3)} cr ${s.compressionRatio.toFixed(2)} ${(s.text.length / Math.max(0.01, secs)).toFixed(1)} ch/s ` +
          `${(s.tokens.length / Math.max(1, words)).toFixed(2)} tok/word ${(s.text.length / Math.max(1, s.tokens.length)).toFixed(2)} ch/tok  ${s.text.slice(0, 100)}`,
      );
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
})();
