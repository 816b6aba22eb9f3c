/**
 * A video whose audio track is shorter than its picture (a screen recording whose sound ends early, a clip with a
 * still frame held after the speech): the job transcribes the audio stream (`-map 0:a:0`), so its length is that
 * stream's duration, not the container's, which counts the longest stream. With the container's 16 s against 11 s
 * of sound, admission reserved and billed-for 16 s and preparation refused the file as "truncated".
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeToPcm, probeAudio } from '../../audio/ffmpeg';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const SR = 16_000;
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-video-'));
  const jfk = path.join(AUDIO, 'jfk.wav');
  // 16 s of picture, 11 s of sound (jfk.wav), MP4 and Matroska (whose streams often carry no duration of their own).
  for (const ext of ['mp4', 'mkv']) {
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=10:duration=16', '-i', jfk,
      '-c:v', 'mpeg4', '-c:a', 'aac', path.join(tmp, `video.${ext}`)]);
  }
  // Sound that starts 3 s into the picture (a screen recording whose microphone comes on late).
  // jfk.flac: 44.1 kHz stereo, so the lead is counted at the stream's own rate, not Whisper's 16 kHz.
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=10:duration=16', '-itsoffset', '3', '-i', path.join(AUDIO, 'jfk.flac'),
    '-c:v', 'mpeg4', '-c:a', 'aac', path.join(tmp, 'late-sound.mp4')]);
  // Audio only, in Matroska: the container's duration is the one there is.
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', jfk, '-c:a', 'libopus', path.join(tmp, 'audio.mka')]);
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.each([['mp4'], ['mkv']])('video.%s: probed as its 11 s of audio, and decodes without "truncated"', async (ext) => {
  const file = path.join(tmp, `video.${ext}`);
  const probe = await probeAudio(file);
  expect(probe.durationSeconds).toBeGreaterThan(10.9);
  expect(probe.durationSeconds).toBeLessThan(11.2);
  let header = NaN;
  const samples = await decodeToPcm(file, path.join(tmp, `video-${ext}.f32`), { onHeader: (s) => (header = s) });
  expect(samples / SR).toBeCloseTo(11, 0);
  expect(header).toBeLessThan(11.2);
});

test('audio only (Matroska): the container duration', async () => {
  const probe = await probeAudio(path.join(tmp, 'audio.mka'));
  expect(probe.durationSeconds).toBeCloseTo(11, 0);
});

/**
 * Times are the file's: a transcript of a video is used as its captions, so speech 3 s into the picture must be at
 * 3 s, not at 0 (ffmpeg writes a stream that starts late from its first sample, as openai/whisper's load_audio
 * does; captions then ran 3 s early). The decode starts at the container's start, silence before the sound.
 */
test('sound that starts 3 s into a video: decoded on the video’s time line, the speech at 3 s', async () => {
  const file = path.join(tmp, 'late-sound.mp4');
  const probe = await probeAudio(file);
  expect(probe.durationSeconds).toBeGreaterThan(13.9);
  expect(probe.durationSeconds).toBeLessThan(14.2);
  const out = path.join(tmp, 'late-sound.f32');
  const samples = await decodeToPcm(file, out);
  expect(samples / SR).toBeCloseTo(14, 0);
  const pcm = new Float32Array(fs.readFileSync(out).buffer.slice(0));
  const firstLoud = pcm.findIndex((v) => Math.abs(v) > 0.01) / SR;
  // jfk.flac's own first loud sample, 3 s later here (AAC's priming may move it a few ms).
  const ref = path.join(tmp, 'jfk.f32');
  await decodeToPcm(path.join(AUDIO, 'jfk.flac'), ref);
  const jfkFirst = new Float32Array(fs.readFileSync(ref).buffer.slice(0)).findIndex((v) => Math.abs(v) > 0.01) / SR;
  expect(firstLoud - jfkFirst).toBeGreaterThan(2.9);
  expect(firstLoud - jfkFirst).toBeLessThan(3.1);
});
