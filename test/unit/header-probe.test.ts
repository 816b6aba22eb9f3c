/**
 * Admission's in-process header probe (audio/header-probe.ts) against ffprobe on the same files: the
 * same duration, channels and rate for the FLAC, MP3 and WAV forms ffmpeg writes; files cut short of
 * their header's length, empty files, a tag with nothing after it and a header with no frame refused
 * with our sentence; everything else left to ffprobe (null). Real ffmpeg on jfk.flac.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { flacFrameAt, id3v2Size, mpegFrameAt, probeAudioHeader } from '../../audio/header-probe';
import { UnsupportedAudioError } from '../../audio/ffmpeg-safety';

const JFK = path.resolve(__dirname, '../../../shared/audio/jfk.flac');
let tmp: string;

/** ffmpeg's encoding of jfk (first `seconds`) with `args`, into tmp/name. */
function encode(name: string, args: string[], seconds = 11): string {
  const out = path.join(tmp, name);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', JFK, '-t', String(seconds), ...args, out]);
  return out;
}

function ffprobe(file: string): { duration: number; channels: number; sampleRate: number } {
  const out = JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=channels,sample_rate', '-of', 'json', file], { encoding: 'utf8' }),
  );
  return { duration: Number(out.format.duration), channels: out.streams[0].channels, sampleRate: Number(out.streams[0].sample_rate) };
}

/** The first `fraction` of `file`'s bytes, as a new file. */
function cut(file: string, fraction: number): string {
  const data = fs.readFileSync(file);
  const out = `${file}.cut${fraction}`;
  fs.writeFileSync(out, data.subarray(0, Math.floor(data.length * fraction)));
  return out;
}

async function refusal(file: string): Promise<string> {
  const err = await probeAudioHeader(file).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(UnsupportedAudioError);
  return (err as Error).message;
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-header-probe-'));
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('FLAC, MP3 (Xing/Info, LAME VBR, CBR without a tag, MPEG-2) and WAV (s16, f32, mono 16 kHz): what ffprobe says', async () => {
  const files: [string, string][] = [
    ['jfk.flac (44.1 kHz stereo)', JFK],
    ['flac mono 16 kHz', encode('m16.flac', ['-ac', '1', '-ar', '16000'])],
    ['mp3 32k MPEG-2 mono (the bench file)', encode('b.mp3', ['-ac', '1', '-ar', '16000', '-b:a', '32k'])],
    ['mp3 LAME VBR', encode('vbr.mp3', ['-q:a', '4'])],
    ['mp3 CBR, no Xing tag', encode('cbr.mp3', ['-b:a', '64k', '-write_xing', '0'])],
    ['mp3 without an ID3 tag', encode('noid3.mp3', ['-id3v2_version', '0', '-write_id3v1', '1'])],
    ['wav s16 stereo', encode('s16.wav', [])],
    ['wav f32', encode('f32.wav', ['-c:a', 'pcm_f32le'])],
    ['wav 16 kHz mono, 2 s', encode('m16.wav', ['-ac', '1', '-ar', '16000'], 2)],
  ];
  for (const [name, file] of files) {
    const ours = await probeAudioHeader(file);
    const ref = ffprobe(file);
    expect({ name, demuxer: ours?.demuxer, channels: ours?.channels, sampleRate: ours?.sampleRate }).toEqual({
      name,
      demuxer: path.extname(file).slice(1),
      channels: ref.channels,
      sampleRate: ref.sampleRate,
    });
    expect({ name, diff: Math.abs(ours!.durationSeconds - ref.duration) < 0.03 }).toEqual({ name, diff: true });
  }
}, 60_000);

test('FLAC and MP3 cut short of what their header says are refused as truncated; a cut CBR MP3 or WAV is just shorter audio', async () => {
  for (const file of [JFK, encode('t.mp3', [])]) {
    expect(await refusal(cut(file, 0.5))).toMatch(/^the audio is truncated: its header says 11\.\d s but the file ends after about 5\.\d s$/);
    // Cut by 5 %: within what the full decode tolerated too (MIN_PRESENT_FRACTION).
    expect((await probeAudioHeader(cut(file, 0.97)))?.durationSeconds).toBeCloseTo(ffprobe(file).duration, 1);
  }
  // A cut CBR MP3 and a cut WAV are shorter audio (as ffprobe reads them).
  for (const file of [cut(encode('c.mp3', ['-b:a', '64k', '-write_xing', '0']), 0.5), cut(encode('c.wav', []), 0.5)]) {
    expect((await probeAudioHeader(file))?.durationSeconds).toBeCloseTo(ffprobe(file).duration, 1);
  }
}, 60_000);

test('empty, cut inside the header, a tag or header with no audio after it: refused; other containers: left to ffprobe', async () => {
  const write = (name: string, data: Buffer | string) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, data);
    return f;
  };
  const flac = fs.readFileSync(JFK);
  expect(await refusal(write('empty.flac', ''))).toBe('the file is empty');
  expect(await refusal(write('head.flac', flac.subarray(0, 20)))).toMatch(/cut inside its header/);
  const wav = fs.readFileSync(encode('h.wav', [], 1));
  expect(await refusal(write('head.wav', wav.subarray(0, 30)))).toMatch(/cut inside its header/);
  const id3 = Buffer.concat([Buffer.from('ID3'), Buffer.from([4, 0, 0, 0, 0, 0, 10]), Buffer.alloc(10)]);
  expect(id3v2Size(id3)).toBe(20);
  expect(await refusal(write('tag-only.mp3', id3))).toMatch(/tag but no audio/);
  // A FLAC header whose frames are noise: no frame after the header.
  const metaEnd = flac.indexOf(Buffer.from([0xff, 0xf8]), 42);
  const noise = Buffer.concat([flac.subarray(0, metaEnd), Buffer.alloc(100_000, 0x55)]);
  expect(await refusal(write('noise.flac', noise))).toMatch(/no FLAC frame follows the header/);
  for (const [name, args] of [
    ['x.m4a', ['-c:a', 'aac']],
    ['x.ogg', []],
  ] as [string, string[]][]) {
    expect(await probeAudioHeader(encode(name, args, 1))).toBeNull();
  }
  expect(await probeAudioHeader(write('text.wav', 'this is a text file, not audio\n'.repeat(50)))).toBeNull();
  expect(await probeAudioHeader(write('playlist.mp3', '#EXTM3U\n#EXTINF:11.0,\n/etc/passwd\n'))).toBeNull();
}, 60_000);

test('frame headers: a FLAC frame needs its CRC-8; an MPEG frame its rates and bitrate', () => {
  const flac = fs.readFileSync(JFK);
  const at = flac.indexOf(Buffer.from([0xff, 0xf8]), 42);
  expect(flacFrameAt(flac, at)).toEqual({ variable: false, number: 0, blockSize: 4608, channels: 2, sampleRate: 44100 }); // STREAMINFO: 4608-sample blocks
  const broken = Buffer.from(flac.subarray(at, at + 16));
  broken[2] ^= 0x01; // sample-rate code changed: the CRC-8 no longer matches
  expect(flacFrameAt(broken, 0)).toBeNull();
  // MPEG-1 layer III, 128 kbit/s, 44.1 kHz, no padding, stereo: 417 bytes, 1152 samples.
  expect(mpegFrameAt(Buffer.from([0xff, 0xfb, 0x90, 0x00]), 0)).toMatchObject({ version: 3, layer: 3, sampleRate: 44100, bitrate: 128000, channels: 2, length: 417, samples: 1152 });
  expect(mpegFrameAt(Buffer.from([0xff, 0xfb, 0xf0, 0x00]), 0)).toBeNull(); // bitrate index 15 is invalid
});
