/**
 * Audio preparation in bounded memory (audio/prepare.ts, audio/ffmpeg.ts decodeToPcm, the block-fed
 * detector and planner): however the PCM is split into blocks, the speech spans, chunks, hashes and
 * billed seconds are exactly those of planning the whole array at once; bad audio and audio over the
 * limit fail with our errors. Real ffmpeg on audio built from ../shared/audio.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { frameEnergyDb, FrameEnergyMeter } from '../../audio/chunk-plan';
import { AudioTooLongError, decodeToPcm, PcmBlocker, readPcmBlocks, UnsupportedAudioError } from '../../audio/ffmpeg';
import { withChunkHashes } from '../../audio/pcm-blob';
import { preparePcm } from '../../audio/prepare';
import { EnergySpeechDetector, findSpeechSpans, planSpeechChunks } from '../../audio/speech-spans';
import { mulberry32 } from '../helpers/prng';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const SR = 16000;
let tmp: string;
let input: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-pcm-'));
  input = path.join(tmp, 'talk.flac');
  // jfk, 20 s of near-silence, jfk, 3 s, jfk: 56 s, 44.1 kHz stereo (resampled and downmixed by decodeToPcm).
  const jfk = path.join(AUDIO, 'jfk.flac');
  execFileSync('ffmpeg', [
    '-v', 'error', '-y', '-i', jfk, '-i', jfk, '-i', jfk,
    '-filter_complex', '[0:a]apad=pad_dur=20[a0];[1:a]apad=pad_dur=3[a1];[a0][a1][2:a]concat=n=3:v=0:a=1',
    input,
  ]);
}, 60_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function readWhole(file: string): Float32Array {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

/** Random cuts of `samples` into blocks of 1…maxLen samples. */
function randomBlocks(samples: Float32Array, maxLen: number, seed: number): Float32Array[] {
  const rand = mulberry32(seed);
  const out: Float32Array[] = [];
  for (let at = 0; at < samples.length; ) {
    const n = 1 + Math.floor(rand() * maxLen);
    out.push(samples.slice(at, at + n));
    at += n;
  }
  return out;
}

describe('block-fed energy and speech detection', () => {
  const rand = mulberry32(7);
  const samples = Float32Array.from({ length: 3 * SR + 123 }, (_, i) => (i > SR && i < 2 * SR ? 0.3 : 1e-4) * (rand() * 2 - 1));

  test('FrameEnergyMeter gives frameEnergyDb bit for bit, for any split into blocks', () => {
    const whole = frameEnergyDb(samples, 320);
    for (const maxLen of [1, 7, 319, 321, 5000]) {
      const meter = new FrameEnergyMeter(320);
      for (const b of randomBlocks(samples, maxLen, maxLen)) meter.push(b);
      expect(meter.samples).toBe(samples.length);
      expect(Array.from(meter.finish())).toEqual(Array.from(whole));
    }
  });

  test('EnergySpeechDetector finds the same spans in blocks as in the whole array', () => {
    const whole = findSpeechSpans(samples);
    expect(whole).toHaveLength(1);
    const d = new EnergySpeechDetector();
    for (const b of randomBlocks(samples, 777, 3)) d.push(b);
    expect(d.finish()).toEqual(whole);
  });

  test('PcmBlocker reassembles float32 bytes split anywhere into blocks of exactly blockSamples', () => {
    const bytes = new Uint8Array(samples.buffer.slice(0));
    const blocker = new PcmBlocker(1000);
    const blocks: Float32Array[] = [];
    const rand2 = mulberry32(11);
    for (let at = 0; at < bytes.length; ) {
      const n = 1 + Math.floor(rand2() * 6000);
      blocks.push(...blocker.write(bytes.subarray(at, at + n)));
      at += n;
    }
    const last = blocker.end();
    expect(blocks.every((b) => b.length === 1000)).toBe(true);
    expect(last!.length).toBe(samples.length % 1000);
    const joined = new Float32Array(samples.length);
    let at = 0;
    for (const b of [...blocks, last!]) {
      joined.set(b, at);
      at += b.length;
    }
    expect(joined).toEqual(samples);
  });
});

describe('preparePcm', () => {
  test('streamed in small blocks, it plans and hashes exactly what planning the whole PCM gives', async () => {
    const results = [];
    for (const blockSamples of [SR, 4099, 30 * SR]) {
      const out = path.join(tmp, `talk-${blockSamples}.f32`);
      results.push({ blockSamples, out, r: await preparePcm(input, out, { blockSamples }) });
    }
    const samples = readWhole(results[0].out);
    const whole = planSpeechChunks(samples);
    expect(whole.chunks.length).toBeGreaterThanOrEqual(2);
    expect(whole.chunks.some((c) => c.pieces)).toBe(true); // the 20 s pause was removed inside a chunk
    const expected = whole.chunks.map((c) => withChunkHashes(samples, c));
    for (const { blockSamples, out, r } of results) {
      expect(fs.statSync(out).size).toBe(samples.length * 4);
      expect(r.samples).toBe(samples.length);
      expect(r.blocks).toBe(Math.ceil(samples.length / blockSamples));
      expect(r.chunks).toEqual(expected);
      expect(r.speechSeconds).toBe(whole.speechSeconds);
    }
    expect(results[0].r.blocks).toBeGreaterThan(50);
  }, 60_000);

  test('readPcmBlocks reads ranges laid end to end, in blocks, stopping at the end of the file', async () => {
    const out = path.join(tmp, 'talk-16000.f32');
    const samples = readWhole(out);
    const ranges: [number, number][] = [[10, 5000], [SR * 10, SR * 12 + 7], [samples.length - 100, samples.length + 500]];
    const got: number[] = [];
    for await (const b of readPcmBlocks(out, ranges, 999)) {
      expect(b.length).toBeLessThanOrEqual(999);
      got.push(...b);
    }
    const want = ranges.flatMap(([a, b]) => Array.from(samples.subarray(a, Math.min(b, samples.length))));
    expect(got).toEqual(want);
  });

  test('undecodable audio: UnsupportedAudioError with our sentence, no path of ours in it', async () => {
    const bad = path.join(tmp, 'notes.wav');
    fs.writeFileSync(bad, 'this is a text file, not audio\n'.repeat(50));
    const err = await preparePcm(bad, path.join(tmp, 'bad.f32')).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedAudioError);
    expect(err.message.length).toBeGreaterThan(10);
    expect(err.message).not.toContain(tmp);
  });

  test('audio that decodes past maxSamples stops ffmpeg with AudioTooLongError', async () => {
    const err = await decodeToPcm(input, path.join(tmp, 'long.f32'), { maxSamples: 10 * SR, blockSamples: SR }).catch((e) => e);
    expect(err).toBeInstanceOf(AudioTooLongError);
    expect(err.code).toBe('audio_too_long');
  });

  test('an aborted signal stops the decode with its reason', async () => {
    const ac = new AbortController();
    const reason = new Error('cancelled by the test');
    const p = decodeToPcm(input, path.join(tmp, 'abort.f32'), {
      signal: ac.signal,
      blockSamples: SR,
      onBlock: () => ac.abort(reason),
    });
    await expect(p).rejects.toBe(reason);
  });
});
