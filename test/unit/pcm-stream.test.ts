/**
 * Audio preparation in bounded memory (audio/prepare.ts, audio/ffmpeg.ts decodeToPcm, the block-fed
 * Silero VAD and planner): however the PCM is split into blocks, the chunks, hashes and billed seconds
 * are exactly those of running the VAD over the whole array at once and planning on its probabilities;
 * bad audio and audio over the limit fail with our errors. Real ffmpeg on audio built from ../shared/audio.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AudioTooLongError, decodeToPcm, PcmBlocker, readPcmBlocks, UnsupportedAudioError } from '../../audio/ffmpeg';
import { withChunkHashes } from '../helpers/pcm-hash';
import { preparePcm } from '../../audio/prepare';
import { loadSileroVad, sileroModelPath, SileroVadStream } from '../../audio/silero-vad';
import { planSpeechChunks } from '../../audio/speech-spans';
import { VadThread } from '../../audio/vad-client';
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

afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await VadThread.closeShared();
});

function readWhole(file: string): Float32Array {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

describe('block reassembly', () => {
  const rand = mulberry32(7);
  const samples = Float32Array.from({ length: 3 * SR + 123 }, (_, i) => (i > SR && i < 2 * SR ? 0.3 : 1e-4) * (rand() * 2 - 1));

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
    // The reference: the VAD's frame loop (the shipped graph, one call per frame) in this thread over the whole
    // array as one block; preparePcm runs the sequence graph on the VAD thread, overlapped with the decode.
    const vad = new SileroVadStream(await loadSileroVad(sileroModelPath()));
    const head = await vad.push(samples);
    const tail = await vad.finish();
    const probs = new Float32Array(head.length + tail.length);
    probs.set(head);
    probs.set(tail, head.length);
    const whole = planSpeechChunks(probs, samples.length);
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

  test('two preparations at once (two streams on the one VAD thread, each overlapped with its decode) plan what one alone plans', async () => {
    // A worker prepares several jobs at once; their VAD streams share the thread's session. 1 s blocks are not a
    // multiple of the 512-sample frame, so each stream carries a partial frame from push to push.
    const alone = await preparePcm(input, path.join(tmp, 'alone.f32'), { blockSamples: SR });
    const both = await Promise.all([0, 1].map((k) => preparePcm(input, path.join(tmp, `both-${k}.f32`), { blockSamples: SR })));
    for (const [k, r] of both.entries()) {
      expect(r.chunks).toEqual(alone.chunks);
      expect(r.speechSeconds).toBe(alone.speechSeconds);
      expect(fs.readFileSync(path.join(tmp, `both-${k}.f32`)).equals(fs.readFileSync(path.join(tmp, 'alone.f32')))).toBe(true);
    }
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
