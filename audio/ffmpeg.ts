/**
 * ffmpeg through fluent-ffmpeg: probe uploads and normalise them to Whisper's input
 * (16 kHz, mono, float32). Inputs are always seekable files, never pipes: MP4/M4A keep their index
 * (moov atom) at the end. Every input is opened through audio/ffmpeg-safety.ts (protocol and demuxer
 * whitelists, the probed demuxer forced on the decode).
 */
import * as fs from 'node:fs';
import ffmpeg from 'fluent-ffmpeg';
import { SAMPLE_RATE } from '../engine/constants';
import { fileUrl, probeContainer, safeInputOptions, scrubInternals, UnsupportedAudioError } from './ffmpeg-safety';

export { UnsupportedAudioError } from './ffmpeg-safety';

const BYTES_PER_SAMPLE = 4; // float32

export interface AudioProbe {
  durationSeconds: number;
  channels: number;
  sampleRate: number;
  codec: string;
  container: string;
  /** the demuxer to force on every later decode (`-f`), from AUDIO_DEMUXERS */
  demuxer: string;
}

/** A file whose decodable audio is shorter than this share of its header's duration is truncated. */
const MIN_DECODED_FRACTION = 0.9;

/** ffmpeg's stderr (or the error's message) for UnsupportedAudioError's `detail`: logged, never shown. */
export function ffmpegDetail(stderr: string, err?: Error): string {
  return scrubInternals(stderr || err?.message || '');
}

/**
 * Reads the container's header (ffprobe, allowed containers only) and then decodes the first audio
 * stream to nothing with `-xerror`, because a truncated FLAC or MP3 still has a plausible header: only
 * decoding finds the damage. Audio that decodes to (almost) nothing is refused too: that is also what a
 * container whose track lives in another file (MOV data reference, not followed) looks like.
 * @throws UnsupportedAudioError with our sentence (ffmpeg's words in `detail`, for the log)
 */
export async function probeAudio(file: string): Promise<AudioProbe> {
  const size = fs.statSync(file).size;
  if (size === 0) throw new UnsupportedAudioError('the file is empty');
  const { demuxer, data } = await probeContainer(file);
  const stream = data.streams.find((s) => s.codec_type === 'audio');
  if (!stream) throw new UnsupportedAudioError('the file has no audio stream');
  const duration = Number(data.format.duration ?? stream.duration);
  if (!Number.isFinite(duration) || duration <= 0) throw new UnsupportedAudioError('the audio has no duration');
  const decodedSeconds = await new Promise<number>((resolve, reject) => {
    let errors = '';
    let decodedUs = 0;
    ffmpeg(fileUrl(file))
      .inputOptions([...safeInputOptions(demuxer), '-v', 'error', '-xerror'])
      // Progress as key=value lines on stderr: fluent-ffmpeg's own 'progress' event would spawn a
      // second ffprobe per upload just to compute a percentage.
      .outputOptions(['-map', '0:a:0', '-progress', 'pipe:2', '-nostats'])
      .format('null')
      .output('-')
      .on('stderr', (line: string) => {
        const kv = /^([a-z_]+)=(.*)$/.exec(line.trim());
        if (!kv) errors += line + '\n';
        else if (kv[1] === 'out_time_us' && Number.isFinite(Number(kv[2]))) decodedUs = Math.max(decodedUs, Number(kv[2]));
      })
      .on('error', (err: Error) => reject(new UnsupportedAudioError('the audio cannot be decoded', ffmpegDetail(errors, err))))
      .on('end', () => {
        // Some decoders (MP3) report damage on stderr and carry on: at -v error a sound file prints nothing.
        if (errors.trim()) reject(new UnsupportedAudioError('the audio is damaged or truncated', ffmpegDetail(errors)));
        else resolve(decodedUs / 1e6);
      })
      .run();
  });
  if (decodedSeconds <= 0) throw new UnsupportedAudioError('no audio decodes from the file', `decoded 0 of ${duration} s`);
  if (decodedSeconds < duration * MIN_DECODED_FRACTION) {
    throw new UnsupportedAudioError(
      `the audio is truncated: its header says ${duration.toFixed(1)} s but only ${decodedSeconds.toFixed(1)} s decode`,
    );
  }
  return {
    durationSeconds: duration,
    channels: stream.channels ?? 1,
    sampleRate: Number(stream.sample_rate ?? 0),
    codec: stream.codec_name ?? 'unknown',
    container: data.format.format_name ?? 'unknown',
    demuxer,
  };
}

/**
 * Decodes the first audio stream, downmixes to mono and resamples to 16 kHz float32 little-endian,
 * written to `outFile` (raw samples, no header). An aborted `signal` kills ffmpeg. The container is
 * probed again (allowed demuxers only) and forced: the file is checked where it is decoded.
 * @returns the number of samples written
 * @throws UnsupportedAudioError
 */
export async function decodeToPcm(inFile: string, outFile: string, signal?: AbortSignal): Promise<number> {
  const { demuxer } = await probeContainer(inFile);
  // Aborted during the probe: the 'abort' event below has fired already and would never kill ffmpeg.
  signal?.throwIfAborted();
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    const command = ffmpeg(fileUrl(inFile))
      .inputOptions([...safeInputOptions(demuxer), '-v', 'error'])
      .noVideo()
      .outputOptions(['-map', '0:a:0'])
      .audioChannels(1)
      .audioFrequency(SAMPLE_RATE)
      .audioCodec('pcm_f32le')
      .format('f32le')
      .on('stderr', (line: string) => (stderr += line + '\n'))
      .on('error', (err: Error) => reject(new UnsupportedAudioError('the audio cannot be decoded', ffmpegDetail(stderr, err))))
      .on('end', () => resolve());
    signal?.addEventListener('abort', () => command.kill('SIGKILL'), { once: true });
    command.save(outFile);
  });
  const samples = fs.statSync(outFile).size / BYTES_PER_SAMPLE;
  // e.g. a container whose track lives in another file (not followed): nothing to transcribe.
  if (samples === 0) throw new UnsupportedAudioError('no audio decodes from the file', 'decoded 0 samples');
  return samples;
}

/** Reads all of a float32 PCM file. */
export function readPcm(file: string): Float32Array {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / BYTES_PER_SAMPLE).slice();
}

/** Reads samples [start, end) seconds of a float32 16 kHz PCM file without loading the rest. */
export function readPcmRange(file: string, startSeconds: number, endSeconds: number): Float32Array {
  const first = Math.max(0, Math.round(startSeconds * SAMPLE_RATE));
  const last = Math.max(first, Math.round(endSeconds * SAMPLE_RATE));
  const out = new Float32Array(last - first);
  const fd = fs.openSync(file, 'r');
  try {
    const bytes = fs.readSync(fd, new Uint8Array(out.buffer), 0, out.byteLength, first * BYTES_PER_SAMPLE);
    return bytes === out.byteLength ? out : out.slice(0, bytes / BYTES_PER_SAMPLE);
  } finally {
    fs.closeSync(fd);
  }
}
