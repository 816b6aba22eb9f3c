/**
 * Minimal RIFF/WAVE reader for test fixtures: 16-bit PCM only (what ffmpeg's `-f s16le` / `pcm_s16le`
 * produce and what ../shared/audio holds). Multi-channel files are rejected rather than downmixed, so a
 * test never silently compares against differently prepared audio.
 */

/** PCM16 full scale: int16 / 32768 maps to [-1, 1), like whisper's `load_audio` and HF pipelines. */
const PCM16_FULL_SCALE = 32768;
/** WAVE `fmt ` audio format code for integer PCM. */
const WAVE_FORMAT_PCM = 1;
/** WAVE_FORMAT_EXTENSIBLE: the real format sits in a sub-format GUID; its first two bytes are the PCM code. */
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const BITS_PER_SAMPLE = 16;
/** RIFF chunk header: 4-byte id + 4-byte little-endian size. */
const CHUNK_HEADER_BYTES = 8;
/** "RIFF" + size + "WAVE". */
const RIFF_HEADER_BYTES = 12;
/** Offset of the sub-format GUID inside an extensible `fmt ` chunk. */
const EXTENSIBLE_SUBFORMAT_OFFSET = 24;

export interface WavPcm {
  /** Sample rate in Hz. */
  sampleRate: number;
  /** Mono samples as float in [-1, 1), Float32Array[numSamples]. */
  samples: Float32Array;
}

function fourCC(view: DataView, offset: number): string {
  let id = '';
  for (let i = 0; i < 4; i++) id += String.fromCharCode(view.getUint8(offset + i));
  return id;
}

/** Parses a mono 16-bit PCM WAV file's bytes into float samples (s16le / 32768). */
export function parseWavPcm16Mono(bytes: Uint8Array): WavPcm {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < RIFF_HEADER_BYTES || fourCC(view, 0) !== 'RIFF' || fourCC(view, 8) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let sampleRate = 0;
  let fmtSeen = false;
  let offset = RIFF_HEADER_BYTES;
  while (offset + CHUNK_HEADER_BYTES <= bytes.byteLength) {
    const id = fourCC(view, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + CHUNK_HEADER_BYTES;
    if (id === 'fmt ') {
      let format = view.getUint16(body, true);
      if (format === WAVE_FORMAT_EXTENSIBLE) format = view.getUint16(body + EXTENSIBLE_SUBFORMAT_OFFSET, true);
      const channels = view.getUint16(body + 2, true);
      sampleRate = view.getUint32(body + 4, true);
      const bits = view.getUint16(body + 14, true);
      if (format !== WAVE_FORMAT_PCM || channels !== 1 || bits !== BITS_PER_SAMPLE) {
        const got = `format ${format}, ${channels} channels, ${bits} bits`;
        throw new Error(`unsupported WAV: ${got} (need PCM, mono, 16-bit)`);
      }
      fmtSeen = true;
    } else if (id === 'data') {
      if (!fmtSeen) throw new Error('WAV data chunk before fmt chunk');
      // A streamed WAV may carry a placeholder size; never read past the file.
      const dataBytes = Math.min(size, bytes.byteLength - body);
      const samples = new Float32Array(Math.floor(dataBytes / 2));
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(body + 2 * i, true) / PCM16_FULL_SCALE;
      return { sampleRate, samples };
    }
    // Chunks are word-aligned: an odd-sized chunk is followed by one pad byte.
    offset = body + size + (size % 2);
  }
  throw new Error('WAV has no data chunk');
}

/** Reads a mono 16-bit PCM WAV file from disk into float samples. */
export function readWav(file: string): Float32Array {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('node:fs') as typeof import('node:fs');
  return parseWavPcm16Mono(new Uint8Array(fs.readFileSync(file))).samples;
}
