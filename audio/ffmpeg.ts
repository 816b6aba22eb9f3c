/**
 * ffmpeg: probe uploads (cheaply: headers only) and normalise them to Whisper's input
 * (16 kHz, mono, float32), checking the whole body as it decodes. Inputs are always seekable files, never pipes: MP4/M4A keep their index
 * (moov atom) at the end. Every input is opened through audio/ffmpeg-safety.ts (protocol and demuxer
 * whitelists, the probed demuxer forced on the decode).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { SAMPLE_RATE } from '../engine/constants';
import { probeContainer, safeInputArgs, scrubInternals, UnsupportedAudioError, type ProbeData } from './ffmpeg-safety';
import { MIN_PRESENT_FRACTION, probeAudioHeader, type AudioProbe } from './header-probe';

export { UnsupportedAudioError } from './ffmpeg-safety';

const BYTES_PER_SAMPLE = 4; // float32

export type { AudioProbe } from './header-probe';

/** ffmpeg's stderr (or the error's message) for UnsupportedAudioError's `detail`: logged, never shown. */
export function ffmpegDetail(stderr: string, err?: Error): string {
  return scrubInternals(stderr || err?.message || '');
}

/**
 * Admission's probe: what the headers tell, cheaply. FLAC, MP3 and WAV are read in this process
 * (audio/header-probe.ts: no ffmpeg process, whose start alone costs ~60 ms of CPU); anything else by
 * one ffprobe of the container's header and the first audio packet (allowed containers only). Neither
 * decodes the audio: a body damaged or cut beyond what its header shows passes here and fails the job
 * in preparation (decodeToPcm decodes all of it and refuses it as `unsupported_audio`; the job's
 * reservation is released in full).
 * Refused here: an empty file, not audio, a container that is not allowed, no audio stream, no
 * duration, a header that is cut, a track whose samples are not in the file (no first packet), and for
 * FLAC/MP3/WAV a file shorter than its header says.
 * @throws UnsupportedAudioError with our sentence (ffmpeg's words in `detail`, for the log)
 */
export async function probeAudio(file: string): Promise<AudioProbe> {
  const fromHeader = await probeAudioHeader(file);
  if (fromHeader) return fromHeader;
  const { demuxer, data } = await probeContainer(file, { firstPacket: true });
  const stream = data.streams.find((s) => s.codec_type === 'audio');
  if (!stream) throw new UnsupportedAudioError('the file has no audio stream');
  const duration = audioStreamSeconds(data);
  if (!Number.isFinite(duration) || duration <= 0) throw new UnsupportedAudioError('the audio has no duration');
  // e.g. a container whose track lives in another file (MOV data reference, not followed): nothing to read.
  if (!data.packets?.length) throw new UnsupportedAudioError('no audio decodes from the file', 'no packet in the audio stream');
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
 * Below this (seconds) a sound track's late start is left alone: encoders' own delays (AAC priming, a frame or
 * two) are tens of milliseconds, under a caption's precision.
 */
const MIN_AUDIO_LEAD_S = 0.05;

/**
 * How late the first audio stream starts on the file's time line (seconds, 0 when not later than `MIN_AUDIO_LEAD_S`):
 * its `start_time` after the container's, e.g. a screen recording whose microphone came on 3 s into the picture.
 * ffmpeg decodes such a stream from its first sample, so without this lead every transcript time (and a video's
 * captions) would come that much early; decodeToPcm puts this much silence first instead.
 */
export function audioLeadSeconds(data: ProbeData): number {
  const stream = data.streams.find((s) => s.codec_type === 'audio');
  const lead = Number(stream?.start_time) - Number(data.format.start_time ?? 0);
  return Number.isFinite(lead) && lead > MIN_AUDIO_LEAD_S ? lead : 0;
}

/**
 * How long the audio a job transcribes lasts by the headers (seconds; NaN when nothing says), on the file's time
 * line: the first audio stream's (the one decoded, `-map 0:a:0`) lead (audioLeadSeconds) plus its own `duration`,
 * else its `DURATION` tag (Matroska/WebM give streams no duration, only this tag, "HH:MM:SS.nnnnnnnnn"), else the
 * container's. Not the container's first: it spans the longest stream, and a video's picture may run on after its
 * sound ends (16 s of picture over 11 s of speech reserved 16 s and failed preparation as "truncated").
 */
export function audioStreamSeconds(data: ProbeData): number {
  const stream = data.streams.find((s) => s.codec_type === 'audio');
  const lead = audioLeadSeconds(data);
  const own = Number(stream?.duration);
  if (Number.isFinite(own) && own > 0) return lead + own;
  const tag = /^(\d+):([0-5]\d):([0-5]\d(?:\.\d+)?)$/.exec(stream?.tags?.DURATION ?? '');
  if (tag) {
    const tagged = Number(tag[1]) * 3600 + Number(tag[2]) * 60 + Number(tag[3]);
    if (tagged > 0) return lead + tagged;
  }
  return Number(data.format.duration);
}

/** Most channels ffmpeg's `-ac 1` downmixes: past 8 it has no default layout, so no rematrix matrix (swresample). */
const MAX_DEFAULT_LAYOUT_CHANNELS = 8;

/**
 * ffmpeg arguments that downmix a stream of `channels` channels to mono. Up to 8 (or unknown): `-ac 1`, ffmpeg's
 * own downmix by layout. More: the mean of all channels by the `pan` filter (`<` normalises the gains to a sum
 * of 1), since `-ac 1` fails there ("Rematrix is needed between 9 channels and mono but there is not enough
 * information to do it") and a 10- or 16-track recording was admitted, then failed as undecodable.
 */
export function monoDownmixArgs(channels: number | undefined): string[] {
  if (!channels || channels <= MAX_DEFAULT_LAYOUT_CHANNELS) return ['-ac', '1'];
  return ['-af', `pan=mono|c0<${Array.from({ length: channels }, (_, i) => `c${i}`).join('+')}`];
}

/** The decoded audio runs past what the job may have (a header that understates the duration). */
export class AudioTooLongError extends Error {
  readonly code = 'audio_too_long';
}

export interface NormaliseOptions {
  /** an aborted signal kills ffmpeg; the call then rejects with the signal's reason */
  signal?: AbortSignal;
  /** samples per block handed to `onBlock` (the last block may be shorter); default 30 s */
  blockSamples?: number;
  /** more decoded samples than this stop ffmpeg with AudioTooLongError */
  maxSamples?: number;
  /**
   * Called with each block of the decoded samples, in order, as ffmpeg produces them (the block is the
   * callee's to keep); awaited, so a slow consumer slows the decode instead of buffering it.
   */
  onBlock?: (block: Float32Array) => void | Promise<void>;
  /** an audio filter for ffmpeg's -af, instead of the downmix to mono (multichannel: one channel's `pan`) */
  audioFilter?: string;
  /** the subject of a decode error's sentence ("the audio", "channel 1") */
  what?: string;
  /** called once, before the decode, with the duration the container's header gives (seconds; NaN if none) */
  onHeader?: (seconds: number) => void;
}

export const DEFAULT_BLOCK_SAMPLES = 30 * SAMPLE_RATE;

/**
 * Cuts a stream of little-endian float32 bytes, split anywhere (a sample may straddle two pieces), into
 * blocks of `blockSamples` samples; `end` hands out the last, shorter block.
 */
export class PcmBlocker {
  private block: Float32Array;
  private bytes: Uint8Array;
  private filled = 0; // bytes in the current block

  constructor(private readonly blockSamples: number) {
    if (!(blockSamples >= 1)) throw new RangeError(`blockSamples must be at least 1, got ${blockSamples}`);
    this.block = new Float32Array(blockSamples);
    this.bytes = new Uint8Array(this.block.buffer);
  }

  /** The full blocks that `piece` completes. */
  write(piece: Uint8Array): Float32Array[] {
    const out: Float32Array[] = [];
    let at = 0;
    while (at < piece.length) {
      const n = Math.min(piece.length - at, this.bytes.length - this.filled);
      this.bytes.set(piece.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.bytes.length) {
        out.push(this.block);
        this.block = new Float32Array(this.blockSamples);
        this.bytes = new Uint8Array(this.block.buffer);
        this.filled = 0;
      }
    }
    return out;
  }

  /** The last block (whole samples only), or null when nothing is left. */
  end(): Float32Array | null {
    const samples = Math.floor(this.filled / BYTES_PER_SAMPLE);
    this.filled = 0;
    return samples > 0 ? this.block.slice(0, samples) : null;
  }
}

/**
 * Decodes the first audio stream to Whisper's input, 16 kHz mono float32 little-endian (raw samples, no
 * header), written to `outFile` and handed to `onBlock` block by block in the same pass: ffmpeg writes
 * to a pipe, never the whole audio to memory (a 12 h file is 2.8 GB of samples). Memory: one block plus
 * the pipe's buffers, whatever the length. The container is probed again (allowed demuxers only) and
 * forced (audio/ffmpeg-safety.ts): the file is checked where it is decoded. This is where a body that
 * is damaged or cut beyond its header is found (admission reads headers only, probeAudio): ffmpeg stops
 * at the first decoding error (`-xerror`; not for WAV, see below), any error it reports is a refusal (some decoders, MP3's,
 * report damage and carry on), and so is audio that ends before MIN_PRESENT_FRACTION of the duration
 * the container's header gives.
 * @returns the number of samples written
 * @throws UnsupportedAudioError when the container is not allowed, ffmpeg cannot decode it, reports
 *   damage, it decodes to nothing or to less than its header says; AudioTooLongError past `maxSamples`; the signal's reason when aborted; whatever `onBlock`
 *   throws (ffmpeg is stopped in every case)
 */
export async function decodeToPcm(inFile: string, outFile: string, opts: NormaliseOptions = {}): Promise<number> {
  const { signal, onBlock, maxSamples = Infinity } = opts;
  const what = opts.what ?? 'the audio';
  const blocker = new PcmBlocker(opts.blockSamples ?? DEFAULT_BLOCK_SAMPLES);
  const { demuxer, data } = await probeContainer(inFile);
  signal?.throwIfAborted();
  const headerSeconds = audioStreamSeconds(data);
  opts.onHeader?.(headerSeconds);
  // The wav demuxer flags a short final read as a corrupt packet, and a WAV written to a pipe (`ffmpeg … -f wav -`,
  // sox) declares an unknown data size (0xFFFFFFFF), so its last packet is always short: -xerror would refuse every
  // streamed WAV. Its samples are whole and valid; a WAV cut short is shorter audio, as admission already treats it
  // (audio/header-probe.ts), and a decoder inside WAV (ADPCM, GSM) that errs still prints at -v error: refused below.
  const exitOnError = demuxer === 'wav' ? [] : ['-xerror'];
  const args = ['-nostdin', ...safeInputArgs(inFile, demuxer), '-v', 'error', ...exitOnError, '-vn', '-map', '0:a:0'];
  // A sound track that starts late keeps its place on the file's time line (audioLeadSeconds): silence first.
  // adelay counts in the input's samples (it runs before the resampling to 16 kHz); milliseconds without a rate.
  const audio = data.streams.find((s) => s.codec_type === 'audio');
  const lead = audioLeadSeconds(data);
  const inputRate = Number(audio?.sample_rate);
  const delayArg = inputRate > 0 ? `${Math.round(lead * inputRate)}S` : `${Math.round(lead * 1000)}`;
  const delay = lead > 0 ? [`adelay=delays=${delayArg}:all=1`] : [];
  const mono = opts.audioFilter ? ['-af', opts.audioFilter] : monoDownmixArgs(audio?.channels);
  if (mono[0] === '-af') args.push('-af', [...delay, mono[1]].join(','));
  else args.push(...(delay.length ? ['-af', delay[0]] : []), ...mono);
  args.push('-ar', String(SAMPLE_RATE), '-c:a', 'pcm_f32le', '-f', 'f32le', 'pipe:1');
  // FFMPEG_PATH as fluent-ffmpeg reads it, so every ffmpeg run here finds the same binary.
  const child = spawn(process.env.FFMPEG_PATH || 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; spawnError?: Error }>((resolve) => {
    child.once('error', (err) => resolve({ code: null, spawnError: err }));
    child.once('close', (code) => resolve({ code }));
  });
  const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  signal?.addEventListener('abort', kill, { once: true });
  // Not truncated on open: a retried preparation rewrites the same bytes in place (the decode is deterministic)
  // while chunks announced by the attempt before may already be reading their ranges (audio/prepare.ts onChunks);
  // truncated to the decoded length at the end instead.
  const out = await fs.promises.open(outFile, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
  let bytes = 0;
  try {
    for await (const piece of child.stdout as AsyncIterable<Buffer>) {
      bytes += piece.length;
      if (bytes / BYTES_PER_SAMPLE > maxSamples) {
        throw new AudioTooLongError(
          `the audio decodes to more than ${(maxSamples / SAMPLE_RATE).toFixed(0)} s, over the limit for this job`,
        );
      }
      await out.write(piece);
      for (const block of blocker.write(piece)) await onBlock?.(block);
    }
    const last = blocker.end();
    if (last) await onBlock?.(last);
    const { code, spawnError } = await exited;
    if (signal?.aborted) throw signal.reason;
    if (spawnError) throw spawnError; // ffmpeg missing: the machine's fault, not the audio's
    if (code !== 0) throw new UnsupportedAudioError(`${what} cannot be decoded`, ffmpegDetail(stderr || `ffmpeg exited with code ${code}`));
    // e.g. a container whose track lives in another file (not followed): nothing to transcribe.
    if (bytes < BYTES_PER_SAMPLE) throw new UnsupportedAudioError(what === 'the audio' ? 'no audio decodes from the file' : `${what} decodes to no audio`, 'decoded 0 samples');
    // Some decoders (MP3) report damage on stderr and carry on: at -v error sound audio prints nothing.
    if (stderr.trim()) throw new UnsupportedAudioError(`${what} is damaged or truncated`, ffmpegDetail(stderr));
    await out.truncate(bytes);
    const decodedSeconds = bytes / BYTES_PER_SAMPLE / SAMPLE_RATE;
    if (Number.isFinite(headerSeconds) && decodedSeconds < headerSeconds * MIN_PRESENT_FRACTION) {
      throw new UnsupportedAudioError(
        `${what} is truncated: its header says ${headerSeconds.toFixed(1)} s but only ${decodedSeconds.toFixed(1)} s decode`,
      );
    }
  } catch (err) {
    kill();
    await exited;
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    signal?.removeEventListener('abort', kill);
    await out.close();
  }
  return Math.floor(bytes / BYTES_PER_SAMPLE);
}

/**
 * Blocks of ≤ `blockSamples` samples of a float32 PCM file, over the sample ranges [first, last) in
 * order (ranges laid end to end: a block may span two of them), by positional reads: memory is one
 * block whatever the file's size. A range past the file's end stops at the end.
 */
export async function* readPcmBlocks(
  file: string,
  ranges: readonly (readonly [number, number])[],
  blockSamples: number = DEFAULT_BLOCK_SAMPLES,
): AsyncGenerator<Float32Array> {
  const fh = await fs.promises.open(file, 'r');
  try {
    for (const [first, last] of ranges) {
      for (let at = first; at < last; at += blockSamples) {
        const n = Math.min(blockSamples, last - at);
        const block = new Float32Array(n);
        const { bytesRead } = await fh.read(new Uint8Array(block.buffer), 0, block.byteLength, at * BYTES_PER_SAMPLE);
        if (bytesRead < block.byteLength) {
          if (bytesRead >= BYTES_PER_SAMPLE) yield block.slice(0, Math.floor(bytesRead / BYTES_PER_SAMPLE));
          break;
        }
        yield block;
      }
    }
  } finally {
    await fh.close();
  }
}
