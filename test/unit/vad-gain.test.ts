/**
 * The VAD's input level (audio/vad-gain.ts): one gain per 30 s window from its sample peak, up to −6 dBFS and at most
 * 60 dB, never below 1; the same windows whatever blocks the caller pushes; loud audio passed bit for bit. Then
 * preparation (audio/prepare.ts, real ffmpeg and Silero VAD) on quiet files built from ../shared/audio: jfk at −50
 * dBFS and a lone speaker on one channel of a 12-channel file keep jfk's speech; noise and hiss at any level and
 * digital silence still give none; jfk at its own level gives the spans it always gave.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSilent, SPEECH_FLOOR_DBFS } from '../../audio/chunk-plan';
import { preparePcm } from '../../audio/prepare';
import { findSpeechSpans } from '../../audio/speech-spans';
import { detectSpeech, pcmFileBlocks, VadThread } from '../../audio/vad-client';
import { samplePeak, VAD_GAIN_WINDOW_SAMPLES, VAD_MAX_GAIN, VAD_TARGET_PEAK, VadGainStream, VadGainWindows, vadInputGain } from '../../audio/vad-gain';
import { mulberry32 } from '../helpers/prng';
import { concatSamples } from '../../audio/speech-spans';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const SR = 16000;

describe('vadInputGain', () => {
  test('1 at or above the target peak; target / peak below it; capped at VAD_MAX_GAIN', () => {
    expect(VAD_TARGET_PEAK).toBe(0.5);
    expect(vadInputGain(1)).toBe(1);
    expect(vadInputGain(0.79)).toBe(1); // jfk.wav, −2.1 dBFS
    expect(vadInputGain(0.5)).toBe(1);
    expect(vadInputGain(0.25)).toBeCloseTo(2, 12);
    expect(vadInputGain(10 ** (-50 / 20))).toBeCloseTo(0.5 * 10 ** (50 / 20), 6); // −50 dBFS → −6 dBFS
    expect(vadInputGain(10 ** (-66 / 20))).toBeCloseTo(VAD_MAX_GAIN, -1);
    expect(vadInputGain(1e-6)).toBe(VAD_MAX_GAIN);
    expect(vadInputGain(0)).toBe(VAD_MAX_GAIN); // digital silence: zeros stay zeros
    expect(vadInputGain(2)).toBe(1); // float input over full scale is never lowered
    expect(vadInputGain(NaN)).toBe(1);
  });

  test('samplePeak is the largest absolute sample', () => {
    expect(samplePeak(Float32Array.from([0.1, -0.4, 0.3]))).toBeCloseTo(0.4, 6);
    expect(samplePeak(new Float32Array(0))).toBe(0);
  });
});

/** A 16-bit mono WAV's samples, through sox (float32 raw on stdout). */
function readF32Wav(file: string): Float32Array {
  const buf = execFileSync('sox', ['-R', file, '-t', 'raw', '-e', 'floating-point', '-b', '32', '-']);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('the engine\'s energy floor lies under the quietest speech the gain lifts fully: jfk at −66 dBFS peak is not silent; zeros and 16-bit dither are', () => {
  const jfk = readF32Wav(path.join(AUDIO, 'jfk.wav'));
  const atPeak = (db: number) => {
    const g = 10 ** (db / 20) / samplePeak(jfk);
    return jfk.map((v) => v * g);
  };
  expect(SPEECH_FLOOR_DBFS).toBeLessThanOrEqual(20 * Math.log10(VAD_TARGET_PEAK / VAD_MAX_GAIN) - 12);
  expect(isSilent(atPeak(-50))).toBe(false);
  expect(isSilent(atPeak(20 * Math.log10(VAD_TARGET_PEAK / VAD_MAX_GAIN)))).toBe(false);
  expect(isSilent(new Float32Array(30 * SR))).toBe(true);
  const rand = mulberry32(3);
  expect(isSilent(Float32Array.from({ length: 30 * SR }, () => Math.round(rand() * 2 - 1) / 32768))).toBe(true); // ±1 LSB
});

describe('VadGainWindows', () => {
  const rand = mulberry32(11);
  // 75 s: a quiet window (peak 0.01), a loud one (peak 0.9), and a quiet partial window (peak 0.002)
  const samples = Float32Array.from({ length: 75 * SR }, (_, i) => (i < 30 * SR ? 0.01 : i < 60 * SR ? 0.9 : 0.002) * (rand() * 2 - 1));
  samples[10] = 0.01;
  samples[30 * SR + 10] = 0.9;
  samples[60 * SR + 10] = -0.002;

  function run(blockSamples: number): { out: Float32Array; gains: number[]; counts: number[] } {
    const w = new VadGainWindows();
    const parts: Float32Array[] = [];
    const counts: number[] = [];
    for (let at = 0; at < samples.length; at += blockSamples) {
      const got = w.push(samples.subarray(at, at + blockSamples));
      counts.push(got.length);
      parts.push(...got);
    }
    const rest = w.end();
    if (rest) parts.push(rest);
    return { out: concatSamples(parts), gains: w.gains, counts };
  }

  test('one gain per 30 s window from its own peak, whatever the blocks; loud windows bit for bit; the input untouched', () => {
    const copy = samples.slice();
    const ref = run(VAD_GAIN_WINDOW_SAMPLES);
    expect(ref.gains.map((g) => +g.toFixed(3))).toEqual([50, 1, 250]); // 0.5 / peak (float32 peaks)
    expect(ref.counts).toEqual([1, 1, 0]); // aligned 30 s blocks come out at once (preparation: no delay)
    expect(ref.out.length).toBe(samples.length);
    expect(bytes(ref.out.subarray(30 * SR, 60 * SR)).equals(bytes(samples.subarray(30 * SR, 60 * SR)))).toBe(true);
    expect(ref.out[10]).toBeCloseTo(0.5, 6);
    expect(ref.out[60 * SR + 10]).toBeCloseTo(-0.5, 6);
    for (const block of [SR, 4099, 262144]) {
      const r = run(block);
      expect(r.gains).toEqual(ref.gains);
      expect(bytes(r.out).equals(bytes(ref.out))).toBe(true);
    }
    expect(bytes(samples).equals(bytes(copy))).toBe(true);
  });

  test('VadGainStream hands the wrapped stream the scaled windows and flushes the partial one before finish', async () => {
    const seen: number[] = [];
    const inner = {
      push: async (b: Float32Array) => {
        seen.push(b.length, samplePeak(b));
        return new Float32Array(Math.floor(b.length / 512));
      },
      finish: async () => Float32Array.from([0.5]),
    };
    const s = new VadGainStream(inner, 1000);
    expect((await s.push(Float32Array.from({ length: 600 }, () => 0.001))).length).toBe(0);
    expect((await s.push(Float32Array.from({ length: 600 }, () => 0.001))).length).toBe(1); // 1000 samples → 1 frame
    const last = await s.finish();
    expect(Array.from(last)).toEqual([0.5]); // the 200-sample rest pushed (no whole frame), then finish's frame
    expect(seen[0]).toBe(1000);
    expect(seen[1]).toBeCloseTo(0.5, 6);
    expect(seen[2]).toBe(200);
    expect(s.gains.map((g) => Math.round(g))).toEqual([500, 500]);
  });
});

describe('preparation on quiet audio (real ffmpeg and Silero VAD)', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-vad-gain-'));
  });
  afterAll(async () => {
    fs.rmSync(tmp, { recursive: true, force: true });
    await VadThread.closeShared();
  });
  const sox = (...args: string[]) => execFileSync('sox', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const prepare = async (file: string) => preparePcm(file, path.join(tmp, `${path.basename(file)}.f32`));

  test('jfk at −50 dBFS peak, and alone on channel 0 of 12 (a 21.6 dB lower mean downmix): all 11 s are speech, as at its own level', async () => {
    const jfk = path.join(AUDIO, 'jfk.wav');
    const normal = await prepare(jfk);
    const quiet = path.join(tmp, 'jfk-50.wav');
    sox(jfk, quiet, 'gain', '-n', '-50');
    const silence = path.join(tmp, 'silence.wav');
    sox('-n', '-r', '16000', '-c', '1', '-b', '16', silence, 'trim', '0', '11');
    const twelve = path.join(tmp, 'jfk-ch0-of-12.wav');
    sox('-M', jfk, ...Array(11).fill(silence), twelve);
    const rQuiet = await prepare(quiet);
    const rTwelve = await prepare(twelve);
    process.stderr.write(`[vad-gain] speech seconds: jfk ${normal.speechSeconds}, at -50 dBFS ${rQuiet.speechSeconds}, 1 of 12 channels ${rTwelve.speechSeconds}\n`);
    expect(normal.speechSeconds).toBe(11);
    expect(rQuiet.speechSeconds).toBeGreaterThan(10.5);
    expect(rTwelve.speechSeconds).toBeGreaterThan(10.5);
    expect(rQuiet.chunks.map((c) => [c.start, c.end])).toEqual(normal.chunks.map((c) => [c.start, c.end]));
  }, 60_000);

  test('noise, hiss and silence at any level stay non-speech: pink, brown and white noise from −20 to −80 dBFS, −60 dBFS RMS hiss, digital silence', async () => {
    const files: string[] = [];
    for (const color of ['pinknoise', 'brownnoise', 'whitenoise']) {
      for (const db of [20, 40, 60, 80]) {
        const f = path.join(tmp, `${color}-${db}.wav`);
        sox('-R', '-n', '-r', '16000', '-c', '1', '-b', '16', f, 'synth', '35', color, 'gain', '-n', `-${db}`);
        files.push(f);
      }
    }
    // room hiss at −60 dBFS RMS (white noise's RMS is 4.8 dB under its peak of 1 at `vol 1`; 16-bit)
    const hiss = path.join(tmp, 'hiss-60rms.wav');
    sox('-R', '-n', '-r', '16000', '-c', '1', '-b', '16', hiss, 'synth', '35', 'whitenoise', 'vol', String(10 ** (-55.2 / 20)));
    files.push(hiss);
    const zeros = path.join(tmp, 'zeros.wav');
    sox('-n', '-r', '16000', '-c', '1', '-b', '16', zeros, 'trim', '0', '35');
    files.push(zeros);
    for (const f of files) {
      const r = await prepare(f);
      expect({ file: path.basename(f), speech: r.speechSeconds, chunks: r.chunks.length }).toEqual({ file: path.basename(f), speech: 0, chunks: 0 });
    }
  }, 120_000);

  test('levelled detection on audio at its own level gives the raw detection\'s spans (jfk, stereo_diarization\'s downmix)', async () => {
    for (const name of ['jfk.wav', 'stereo_diarization.wav']) {
      const pcm = path.join(tmp, `${name}.raw.f32`);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO, name), '-ac', '1', '-ar', '16000', '-f', 'f32le', pcm]);
      const raw = await detectSpeech(pcmFileBlocks(pcm), undefined, { levelled: false });
      const levelled = await detectSpeech(pcmFileBlocks(pcm));
      expect(findSpeechSpans(levelled.probs, levelled.samples)).toEqual(findSpeechSpans(raw.probs, raw.samples));
    }
  }, 60_000);
});
