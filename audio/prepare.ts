/**
 * Audio preparation in bounded memory, whatever the file's length: the upload is normalised by ffmpeg
 * into a pipe, written to the PCM file and fed to the speech detector block by block in the same pass;
 * the chunks are then planned from the frame energies of the speech alone and hashed, both by reading
 * the file back in blocks (positional reads of the speech ranges only). No step holds the samples: a
 * 12 h upload is 2.8 GB of float32, more than Node can read into one buffer (2 GiB).
 *
 *   pass 1  ffmpeg → pipe → { PCM file, SpeechDetector }           the whole audio, once
 *   pass 2  PCM file (speech spans) → FrameEnergyMeter → plan        the speech, read back
 *   pass 3  PCM file (each chunk's ranges) → SHA-256                 the speech, read back
 *
 * Memory: one block (PCM_READ_BLOCK_SECONDS, 30 s = 1.9 MB by default) at a time, plus 4 bytes per
 * 20 ms frame for the energies (0.7 MB per hour) and the chunk list.
 */
import type { ChunkSpan } from '../common/jobs';
import { DEFAULT_CHUNK_PLAN, FrameEnergyMeter } from './chunk-plan';
import { decodeToPcm, DEFAULT_BLOCK_SAMPLES, readPcmBlocks } from './ffmpeg';
import { withChunkHashesFromFile } from './pcm-blob';
import { EnergySpeechDetector, planSpeechChunksFromEnergy, spanSampleRanges, type SpeechDetector } from './speech-spans';
import { SAMPLE_RATE } from '../engine/constants';

export interface PreparePcmOptions {
  signal?: AbortSignal;
  /** samples per block in every pass (default 30 s) */
  blockSamples?: number;
  /** decoded samples beyond this fail with AudioTooLongError (a header that understated the length) */
  maxSamples?: number;
  /** ffmpeg -af instead of the downmix to mono (one channel of a multichannel job) */
  audioFilter?: string;
  /** the subject of a decode error's sentence */
  what?: string;
  /** the speech detector for this audio (default: the energy detector, audio/speech-spans.ts) */
  detector?: SpeechDetector;
}

export interface PreparedPcm {
  /** samples in the PCM file (16 kHz) */
  samples: number;
  /** chunks with speech, indices 0…n-1, each with the SHA-256 of what a worker will read */
  chunks: ChunkSpan[];
  /** seconds sent to inference (what is billed, before rounding) */
  speechSeconds: number;
  /** blocks the decode pass handed to the detector */
  blocks: number;
}

/**
 * Normalises `inFile` into the PCM file `outFile` (16 kHz mono float32 LE) and plans its chunks in
 * bounded memory (see the file comment).
 * @throws UnsupportedAudioError, AudioTooLongError (from decodeToPcm); the signal's reason when aborted
 */
export async function preparePcm(inFile: string, outFile: string, opts: PreparePcmOptions = {}): Promise<PreparedPcm> {
  const blockSamples = opts.blockSamples ?? DEFAULT_BLOCK_SAMPLES;
  const detector = opts.detector ?? new EnergySpeechDetector();
  let blocks = 0;
  const samples = await decodeToPcm(inFile, outFile, {
    signal: opts.signal,
    blockSamples,
    maxSamples: opts.maxSamples,
    audioFilter: opts.audioFilter,
    what: opts.what,
    onBlock: (block) => {
      blocks++;
      return detector.push(block);
    },
  });
  const spans = await detector.finish();
  // The compacted audio (the spans laid end to end) is what planning cuts; its energies, read back.
  const meter = new FrameEnergyMeter(Math.round(DEFAULT_CHUNK_PLAN.frameSeconds * SAMPLE_RATE));
  for await (const block of readPcmBlocks(outFile, spanSampleRanges(spans, samples), blockSamples)) {
    opts.signal?.throwIfAborted();
    meter.push(block);
  }
  const compactSamples = meter.samples;
  const planned = planSpeechChunksFromEnergy(spans, meter.finish(), compactSamples);
  const chunks: ChunkSpan[] = [];
  for (const c of planned.chunks) {
    opts.signal?.throwIfAborted();
    chunks.push(await withChunkHashesFromFile(outFile, c, blockSamples));
  }
  return { samples, chunks, speechSeconds: planned.speechSeconds, blocks };
}
