/**
 * A one-channel job's decode of audio with more channels than ffmpeg has a default layout for (more than 8 with
 * no layout: a field recorder's 10 or 16 tracks, second-order ambisonics' 9). `-ac 1` asks swresample for a
 * rematrix it has no matrix for ("Rematrix is needed between 9 channels and mono but there is not enough
 * information to do it"), so such a file was admitted (202) and then failed as "the audio cannot be decoded".
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeToPcm, monoDownmixArgs, probeAudio } from '../../audio/ffmpeg';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const SR = 16_000;
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-channels-'));
  const jfk = path.join(AUDIO, 'jfk.wav');
  for (const n of [9, 12]) {
    // jfk.wav on every channel (sox -M merges n mono inputs into one n-channel file, no channel layout).
    execFileSync('sox', ['-R', '-M', ...Array(n).fill(jfk), path.join(tmp, `ch${n}.wav`)]);
  }
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.each([[9], [12]])('%i channels decode to mono: the speech, at its level', async (n) => {
  const file = path.join(tmp, `ch${n}.wav`);
  expect((await probeAudio(file)).channels).toBe(n);
  const out = path.join(tmp, `ch${n}.f32`);
  const samples = await decodeToPcm(file, out);
  expect(samples / SR).toBeCloseTo(11, 0);
  // The mean of n equal channels is that channel: the level of jfk.wav itself, not n times it or clipped.
  const pcm = new Float32Array(fs.readFileSync(out).buffer.slice(0));
  const one = path.join(tmp, 'one.f32');
  await decodeToPcm(path.join(AUDIO, 'jfk.wav'), one);
  const ref = new Float32Array(fs.readFileSync(one).buffer.slice(0));
  const rms = (x: Float32Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
  expect(rms(pcm) / rms(ref)).toBeCloseTo(1, 1);
});

test('up to 8 channels keep ffmpeg’s own downmix (-ac 1), as before', () => {
  expect(monoDownmixArgs(1)).toEqual(['-ac', '1']);
  expect(monoDownmixArgs(2)).toEqual(['-ac', '1']);
  expect(monoDownmixArgs(8)).toEqual(['-ac', '1']);
  expect(monoDownmixArgs(undefined)).toEqual(['-ac', '1']);
  expect(monoDownmixArgs(10)).toEqual(['-af', 'pan=mono|c0<c0+c1+c2+c3+c4+c5+c6+c7+c8+c9']);
});
