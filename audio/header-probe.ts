/**
 * Admission's audio probe without a process: the headers of the three most common upload containers
 * (FLAC, MP3, WAV) read in this process, from the first 64 KB and a window at the end of the file.
 *
 * Why not ffprobe: starting any ffmpeg binary costs about 60 ms of CPU on Debian's build (it links some
 * 200 shared libraries) before it reads a byte, which alone is twice the admission budget. Everything
 * else is left to ffprobe (audio/ffmpeg.ts probeAudio); a file that parses here is still opened only
 * through audio/ffmpeg-safety.ts when it is decoded (prepareAudio), which probes the container again,
 * checks it against the whitelist and decodes it whole: a body damaged beyond what the headers show
 * fails the job there (`unsupported_audio`, fully refunded).
 *
 * What is checked here, per container, is what the headers can tell cheaply: the container is what it
 * says (two consecutive MPEG audio frames, a FLAC STREAMINFO, a RIFF WAVE `fmt ` chunk), the header is
 * whole, there is audio after it, and the file is not cut short of the length its header announces
 * (FLAC: the last frame header in the file; MP3: the Xing/Info byte count). A WAV cut short is shorter
 * audio, as ffmpeg reads it.
 * Sources: FLAC, RFC 9639 §8 (metadata blocks, STREAMINFO) and §9.1 (frame header, CRC-8); MPEG audio
 * frame header, ISO/IEC 11172-3 §2.4.1.3 and 13818-3 (sampling rates, bitrates, frame lengths as
 * libavcodec/mpegaudiodecheader.c computes them); Xing/Info and VBRI headers as libavformat/mp3dec.c
 * reads them (`mp3_parse_info_tag`, `mp3_parse_vbri_tag`); ID3v2, id3.org "ID3 tag version 2.4.0 -
 * Main Structure" §3.1; RIFF WAVE, Microsoft "Multimedia Programming Interface and Data Specifications
 * 1.0" (`fmt `, `data` chunks).
 */
import * as fs from 'node:fs';
import { UnsupportedAudioError } from './ffmpeg-safety';

/** What admission needs to know about an upload (the same shape whichever probe read it). */
export interface AudioProbe {
  durationSeconds: number;
  channels: number;
  sampleRate: number;
  codec: string;
  container: string;
  /** the demuxer that decodes it (`-f`), from AUDIO_DEMUXERS (audio/ffmpeg-safety.ts) */
  demuxer: string;
}

/** Bytes read from the start: headers, tags and the first frames of every container parsed here. */
const HEAD_BYTES = 64 * 1024;
/** A file whose audio ends before this share of its header's duration is truncated (as the full decode judged it before). */
export const MIN_PRESENT_FRACTION = 0.9;

/** The first `n` bytes of the file (fewer if it is shorter). */
async function readAt(fh: fs.promises.FileHandle, position: number, n: number): Promise<Buffer> {
  const buf = Buffer.alloc(n);
  const { bytesRead } = await fh.read(buf, 0, n, position);
  return buf.subarray(0, bytesRead);
}

/** Size of an ID3v2 tag at `at` (header + body + footer), 0 when there is none. id3.org v2.4 §3.1. */
export function id3v2Size(buf: Buffer, at = 0): number {
  if (buf.length < at + 10 || buf.toString('latin1', at, at + 3) !== 'ID3') return 0;
  const b = buf.subarray(at + 6, at + 10);
  if (b.some((x) => x & 0x80)) return 0; // not a syncsafe integer: not a tag
  const size = (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3];
  const footer = buf[at + 5] & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

function truncated(headerSeconds: number, presentSeconds: number): UnsupportedAudioError {
  return new UnsupportedAudioError(
    `the audio is truncated: its header says ${headerSeconds.toFixed(1)} s but the file ends after about ${presentSeconds.toFixed(1)} s`,
  );
}

// ---------------------------------------------------------------------------------------------- FLAC

/** CRC-8, polynomial x^8 + x^2 + x + 1, initial 0: the FLAC frame header's check (RFC 9639 §9.1.8). */
function crc8(buf: Buffer, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= buf[i];
    for (let k = 0; k < 8; k++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/**
 * The FLAC frame header at `at`, if one is there with a valid CRC-8: the frame's first sample
 * (variable block size) or frame number (fixed), and its block size in samples. RFC 9639 §9.1.
 */
export function flacFrameAt(
  buf: Buffer,
  at: number,
): { variable: boolean; number: number; blockSize: number; channels: number; sampleRate: number } | null {
  if (at + 6 > buf.length || buf[at] !== 0xff || (buf[at + 1] & 0xfe) !== 0xf8) return null;
  const variable = (buf[at + 1] & 1) === 1;
  const bsCode = buf[at + 2] >> 4;
  const srCode = buf[at + 2] & 0x0f;
  const chCode = buf[at + 3] >> 4;
  const ssCode = (buf[at + 3] >> 1) & 0x07;
  if (bsCode === 0 || srCode === 0x0f || chCode > 10 || ssCode === 3 || buf[at + 3] & 1) return null;
  // The coded number: UTF-8-like, 1 to 7 bytes (§9.1.5).
  let p = at + 4;
  const first = buf[p++];
  let len = 0;
  if (first < 0x80) len = 0;
  else if ((first & 0xe0) === 0xc0) len = 1;
  else if ((first & 0xf0) === 0xe0) len = 2;
  else if ((first & 0xf8) === 0xf0) len = 3;
  else if ((first & 0xfc) === 0xf8) len = 4;
  else if ((first & 0xfe) === 0xfc) len = 5;
  else if (first === 0xfe) len = 6;
  else return null;
  let number = len === 0 ? first : first & (0x7f >> (len + 1));
  if (p + len > buf.length) return null;
  for (let i = 0; i < len; i++) {
    const c = buf[p++];
    if ((c & 0xc0) !== 0x80) return null;
    number = number * 64 + (c & 0x3f);
  }
  let blockSize: number;
  if (bsCode === 1) blockSize = 192;
  else if (bsCode <= 5) blockSize = 576 << (bsCode - 2);
  else if (bsCode === 6) {
    if (p + 1 > buf.length) return null;
    blockSize = buf[p++] + 1;
  } else if (bsCode === 7) {
    if (p + 2 > buf.length) return null;
    blockSize = buf.readUInt16BE(p) + 1;
    p += 2;
  } else blockSize = 256 << (bsCode - 8);
  if (srCode === 0x0c) p += 1;
  else if (srCode === 0x0d || srCode === 0x0e) p += 2;
  if (p + 1 > buf.length || crc8(buf, at, p) !== buf[p]) return null;
  const channels = chCode < 8 ? chCode + 1 : 2;
  // Sample rate codes 1–11 (§9.1.3); 0 = as STREAMINFO says, 12–14 = in the header's tail bytes (not read here: 0).
  const sampleRate = [0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000][srCode] ?? 0;
  return { variable, number, blockSize, channels, sampleRate };
}

async function probeFlac(fh: fs.promises.FileHandle, head: Buffer, start: number, size: number): Promise<AudioProbe | null> {
  // Metadata blocks (RFC 9639 §8): 1 bit last-block flag, 7 bits type, 24 bits length; STREAMINFO first.
  let at = start + 4;
  let info: { sampleRate: number; channels: number; totalSamples: number; maxBlock: number; maxFrame: number } | null = null;
  for (;;) {
    if (at + 4 > size) throw new UnsupportedAudioError('the file is cut inside its header', 'FLAC metadata runs past the end');
    const h = at + 4 <= head.length ? head.subarray(at, at + 4) : await readAt(fh, at, 4);
    const last = (h[0] & 0x80) !== 0;
    const type = h[0] & 0x7f;
    const length = (h[1] << 16) | (h[2] << 8) | h[3];
    if (type === 0) {
      if (length !== 34 || info) return null; // malformed: ffprobe decides
      const s = at + 4 + 34 <= head.length ? head.subarray(at + 4, at + 38) : await readAt(fh, at + 4, 34);
      if (s.length < 34) throw new UnsupportedAudioError('the file is cut inside its header', 'STREAMINFO cut');
      const sampleRate = (s[10] << 12) | (s[11] << 4) | (s[12] >> 4);
      const channels = ((s[12] >> 1) & 0x07) + 1;
      const totalSamples = (s[13] & 0x0f) * 2 ** 32 + s.readUInt32BE(14);
      info = { sampleRate, channels, totalSamples, maxBlock: s.readUInt16BE(2), maxFrame: (s[7] << 16) | (s[8] << 8) | s[9] };
    } else if (!info) {
      return null; // STREAMINFO must come first (§8.1): unusual, let ffprobe judge
    }
    at += 4 + length;
    if (last) break;
  }
  // No sample rate or no total (a stream written without seeking back): the length is not in the header.
  if (!info || info.sampleRate === 0 || info.totalSamples === 0) return null;
  if (at >= size) throw new UnsupportedAudioError('the file has a header but no audio after it');
  const firstFrame = await readAt(fh, at, 32);
  if (!flacFrameAt(firstFrame, 0)) throw new UnsupportedAudioError('the audio is damaged: no FLAC frame follows the header', `no frame at ${at}`);
  const durationSeconds = info.totalSamples / info.sampleRate;
  // The last frame header in the file says how far the audio reaches. A window of two largest frames
  // (or 1 MB when the encoder did not record the largest) holds at least one whole frame header.
  const window = Math.min(size - at, Math.max(HEAD_BYTES, info.maxFrame > 0 ? 2 * info.maxFrame + 32 : 1 << 20));
  const tailStart = size - window;
  const tail = await readAt(fh, tailStart, window);
  // A frame header found by its sync code and CRC-8 alone could be chance bytes: it must also agree with
  // STREAMINFO (channels, sample rate, block size, position).
  let lastFrame: ReturnType<typeof flacFrameAt> = null;
  for (let i = tail.length - 6; i >= 0 && !lastFrame; i--) {
    const f = flacFrameAt(tail, i);
    if (!f || f.channels !== info.channels || (f.sampleRate !== 0 && f.sampleRate !== info.sampleRate)) continue;
    if (!f.variable && f.blockSize > info.maxBlock) continue;
    const first = f.variable ? f.number : f.number * info.maxBlock;
    if (first >= info.totalSamples) continue;
    lastFrame = f;
  }
  if (!lastFrame) throw new UnsupportedAudioError('the audio is damaged: no FLAC frame near the end of the file', `none in the last ${window} bytes`);
  const firstSample = lastFrame.variable ? lastFrame.number : lastFrame.number * info.maxBlock;
  const presentSeconds = (firstSample + lastFrame.blockSize) / info.sampleRate;
  if (presentSeconds < durationSeconds * MIN_PRESENT_FRACTION) throw truncated(durationSeconds, presentSeconds);
  return { durationSeconds, channels: info.channels, sampleRate: info.sampleRate, codec: 'flac', container: 'flac', demuxer: 'flac' };
}

// ----------------------------------------------------------------------------------------------- MP3

const MPEG_RATES = [
  [11025, 12000, 8000], // MPEG 2.5
  [0, 0, 0],
  [22050, 24000, 16000], // MPEG 2
  [44100, 48000, 32000], // MPEG 1
];
// kbit/s by [lsf][layer-1][index]: lsf = MPEG 2 / 2.5 (libavcodec/mpegaudiodata.c ff_mpa_bitrate_tab).
const MPEG_BITRATES = [
  [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
];

interface MpegFrame {
  version: number; // 0 = 2.5, 2 = 2, 3 = 1
  layer: number; // 1..3
  sampleRate: number;
  bitrate: number; // bit/s
  channels: number;
  length: number; // bytes
  samples: number; // per frame
}

/** The MPEG audio frame header at `at` (ISO/IEC 11172-3 §2.4.1.3), or null; free-format frames are left to ffprobe. */
export function mpegFrameAt(buf: Buffer, at: number): MpegFrame | null {
  if (at + 4 > buf.length) return null;
  const h = buf.readUInt32BE(at);
  if ((h & 0xffe00000) >>> 0 !== 0xffe00000) return null;
  const version = (h >> 19) & 3;
  const layer = 4 - ((h >> 17) & 3);
  const brIndex = (h >> 12) & 0xf;
  const srIndex = (h >> 10) & 3;
  if (version === 1 || layer === 4 || brIndex === 0 || brIndex === 15 || srIndex === 3) return null;
  const lsf = version === 3 ? 0 : 1;
  const sampleRate = MPEG_RATES[version][srIndex];
  const bitrate = MPEG_BITRATES[lsf][layer - 1][brIndex] * 1000;
  const padding = (h >> 9) & 1;
  const channels = ((h >> 6) & 3) === 3 ? 1 : 2;
  let length: number;
  let samples: number;
  if (layer === 1) {
    length = (Math.floor((12 * bitrate) / sampleRate) + padding) * 4;
    samples = 384;
  } else if (layer === 2) {
    length = Math.floor((144 * bitrate) / sampleRate) + padding;
    samples = 1152;
  } else {
    length = Math.floor(((lsf ? 72 : 144) * bitrate) / sampleRate) + padding;
    samples = lsf ? 576 : 1152;
  }
  return { version, layer, sampleRate, bitrate, channels, length, samples };
}

async function probeMp3(fh: fs.promises.FileHandle, head: Buffer, start: number, size: number): Promise<AudioProbe | null> {
  if (start >= size) throw new UnsupportedAudioError('the file has a tag but no audio after it');
  const buf = start + 2 * 2881 + 4 <= head.length ? head.subarray(start) : await readAt(fh, start, HEAD_BYTES);
  const frame = mpegFrameAt(buf, 0);
  if (!frame) return null;
  // Two frames in a row with the same version, layer and rate: what ffmpeg's own mp3 probe looks for.
  const next = mpegFrameAt(buf, frame.length);
  if (!next || next.version !== frame.version || next.layer !== frame.layer || next.sampleRate !== frame.sampleRate) {
    if (start + frame.length >= size) throw new UnsupportedAudioError('the audio is too short to transcribe', 'a single MPEG frame');
    return null;
  }
  // Xing/Info (after the side information) or VBRI (32 bytes in): frames and bytes of the stream.
  const lsf = frame.version !== 3;
  const sideInfo = frame.layer === 3 ? (lsf ? (frame.channels === 1 ? 9 : 17) : frame.channels === 1 ? 17 : 32) : 0;
  let frames: number | null = null;
  let streamBytes: number | null = null;
  const tag = buf.toString('latin1', 4 + sideInfo, 8 + sideInfo);
  if (frame.layer === 3 && (tag === 'Xing' || tag === 'Info')) {
    const flags = buf.readUInt32BE(8 + sideInfo);
    let p = 12 + sideInfo;
    if (flags & 1) {
      frames = buf.readUInt32BE(p);
      p += 4;
    }
    if (flags & 2) streamBytes = buf.readUInt32BE(p);
  } else if (buf.toString('latin1', 36, 40) === 'VBRI') {
    streamBytes = buf.readUInt32BE(36 + 10);
    frames = buf.readUInt32BE(36 + 14);
  }
  // An ID3v1 tag ("TAG", 128 bytes) at the very end is not audio.
  const tail = size - start >= 128 ? await readAt(fh, size - 128, 3) : Buffer.alloc(0);
  const audioBytes = size - start - (tail.toString('latin1') === 'TAG' ? 128 : 0);
  let durationSeconds: number;
  if (frames) {
    durationSeconds = (frames * frame.samples) / frame.sampleRate;
    // A byte count that no bitrate of this version could give for this many frames is an encoder's
    // mistake, not a length: it is not used.
    const perFrame = streamBytes ? streamBytes / frames : 0;
    const lsfIndex = frame.version === 3 ? 0 : 1;
    const rates = MPEG_BITRATES[lsfIndex][frame.layer - 1];
    const frameBytes = (kbps: number) => ((frame.layer === 1 ? 48 : lsfIndex && frame.layer === 3 ? 72 : 144) * kbps * 1000) / frame.sampleRate;
    const plausible = perFrame >= frameBytes(rates[1]) - 1 && perFrame <= frameBytes(rates[14]) + 4;
    if (streamBytes && plausible && audioBytes < streamBytes * MIN_PRESENT_FRACTION) {
      throw truncated(durationSeconds, (durationSeconds * audioBytes) / streamBytes);
    }
  } else {
    // Constant bitrate: the length follows from the size, as ffprobe estimates it (nothing to cut).
    durationSeconds = (audioBytes * 8) / frame.bitrate;
  }
  if (!(durationSeconds > 0)) throw new UnsupportedAudioError('the audio has no duration');
  return { durationSeconds, channels: frame.channels, sampleRate: frame.sampleRate, codec: `mp${frame.layer}`, container: 'mp3', demuxer: 'mp3' };
}

// ----------------------------------------------------------------------------------------------- WAV

/** WAVE format tags whose samples are whole bytes per block: PCM, IEEE float, A-law, µ-law, extensible. */
const WAV_PLAIN_FORMATS = new Set([0x0001, 0x0003, 0x0006, 0x0007, 0xfffe]);

async function probeWav(fh: fs.promises.FileHandle, head: Buffer, size: number): Promise<AudioProbe | null> {
  let at = 12;
  let fmt: { tag: number; channels: number; sampleRate: number; byteRate: number } | null = null;
  while (at + 8 <= size) {
    const h = at + 8 <= head.length ? head.subarray(at, at + 8) : await readAt(fh, at, 8);
    const id = h.toString('latin1', 0, 4);
    const length = h.readUInt32LE(4);
    if (id === 'fmt ') {
      if (length < 16) return null;
      const f = at + 24 <= head.length ? head.subarray(at + 8, at + 24) : await readAt(fh, at + 8, 16);
      if (f.length < 16) throw new UnsupportedAudioError('the file is cut inside its header', 'fmt chunk cut');
      fmt = { tag: f.readUInt16LE(0), channels: f.readUInt16LE(2), sampleRate: f.readUInt32LE(4), byteRate: f.readUInt32LE(8) };
    } else if (id === 'data') {
      if (!fmt || !WAV_PLAIN_FORMATS.has(fmt.tag) || fmt.byteRate === 0 || fmt.channels === 0 || fmt.sampleRate === 0) return null;
      const present = size - (at + 8);
      if (present <= 0) throw new UnsupportedAudioError('the file has a header but no audio after it');
      // 0 and 0xFFFFFFFF are what writers that cannot seek back leave: the data runs to the end. A size
      // past the end is read as the end too, as ffmpeg's wav demuxer does (a cut WAV is shorter audio).
      const declared = length === 0 || length === 0xffffffff ? present : Math.min(length, present);
      const durationSeconds = declared / fmt.byteRate;
      return { durationSeconds, channels: fmt.channels, sampleRate: fmt.sampleRate, codec: `wav-${fmt.tag}`, container: 'wav', demuxer: 'wav' };
    }
    at += 8 + length + (length & 1); // chunks are padded to even sizes
  }
  throw new UnsupportedAudioError('the file is cut inside its header', 'no data chunk');
}

/**
 * Probes FLAC, MP3 and WAV uploads from their headers, in this process (see the file comment).
 * @returns the probe, or null when the file is none of these or uses a form left to ffprobe (FLAC
 *   without a total sample count, free-format MP3, compressed WAV, RF64…)
 * @throws UnsupportedAudioError (our sentence; the detail for the log) for an empty file, a header
 *   cut short, a header with no audio after it, or a file shorter than its header says
 */
export async function probeAudioHeader(file: string): Promise<AudioProbe | null> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size === 0) throw new UnsupportedAudioError('the file is empty');
    const head = await readAt(fh, 0, Math.min(size, HEAD_BYTES));
    if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WAVE') return await probeWav(fh, head, size);
    // An ID3v2 tag may precede FLAC (ffmpeg reads it) and MP3.
    const start = id3v2Size(head);
    if (start > 0 && start >= size) throw new UnsupportedAudioError('the file has a tag but no audio after it');
    const magic = start + 4 <= head.length ? head.subarray(start, start + 4) : await readAt(fh, start, 4);
    if (magic.toString('latin1') === 'fLaC') return await probeFlac(fh, head, start, size);
    if (magic.length >= 2 && magic[0] === 0xff && (magic[1] & 0xe0) === 0xe0) return await probeMp3(fh, head, start, size);
    return null;
  } finally {
    await fh.close();
  }
}
