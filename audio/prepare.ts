/**
 * Audio preparation in bounded memory, whatever the file's length: the upload is normalised by ffmpeg
 * into a pipe, written to the PCM file and fed to Silero VAD (its own thread, audio/vad-client.ts) block
 * by block in the same pass; the chunks are planned from the speech probabilities alone and hashed by
 * reading the file back in blocks (positional reads of the chunks' ranges only). No step holds the
 * samples: a 12 h upload is 2.8 GB of float32, more than Node can read into one buffer (2 GiB).
 *
 *   pass 1  ffmpeg → pipe → { PCM file, Silero VAD }       the whole audio, once
 *   plan    speech probabilities → chunks (audio/speech-spans.ts planSpeechChunks)
 *   pass 2  PCM file (each chunk's ranges) → SHA-256        the speech, read back
 *
 * Memory: one block (PCM_READ_BLOCK_SECONDS, 30 s = 1.9 MB by default) at a time, plus 4 bytes per
 * 32 ms VAD frame for the probabilities (0.45 MB per hour) and the chunk list.
 */
import type { ChunkSpan } from '../common/jobs';
import { decodeToPcm, DEFAULT_BLOCK_SAMPLES } from './ffmpeg';
import { withChunkHashesFromFile } from './pcm-blob';
import { planSpeechChunks } from './speech-spans';
import { VadThread } from './vad-client';

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
}

export interface PreparedPcm {
  /** samples in the PCM file (16 kHz) */
  samples: number;
  /** chunks with speech, indices 0…n-1, each with the SHA-256 of what a worker will read */
  chunks: ChunkSpan[];
  /** seconds sent to inference (what is billed, before rounding) */
  speechSeconds: number;
  /** blocks the decode pass handed to the VAD */
  blocks: number;
  /** wall time the VAD thread spent on this audio, ms (fairscribe_vad_seconds) */
  vadMs: number;
}

/**
 * Normalises `inFile` into the PCM file `outFile` (16 kHz mono float32 LE) and plans its chunks in
 * bounded memory (see the file comment).
 * @throws UnsupportedAudioError, AudioTooLongError (from decodeToPcm); the signal's reason when aborted
 */
export async function preparePcm(inFile: string, outFile: string, opts: PreparePcmOptions = {}): Promise<PreparedPcm> {
  const blockSamples = opts.blockSamples ?? DEFAULT_BLOCK_SAMPLES;
  const vad = VadThread.shared().open();
  const parts: Float32Array[] = [];
  let blocks = 0;
  let samples: number;
  // The VAD of block k runs on its thread while ffmpeg decodes block k + 1 (two processes' work on two cores
  // instead of taking turns); at most one push is outstanding, so memory stays two blocks.
  let inFlight: Promise<void> = Promise.resolve();
  try {
    samples = await decodeToPcm(inFile, outFile, {
      signal: opts.signal,
      blockSamples,
      maxSamples: opts.maxSamples,
      audioFilter: opts.audioFilter,
      what: opts.what,
      // Awaited by the decoder: it reads no further until the previous block's VAD is done.
      onBlock: async (block) => {
        blocks++;
        await inFlight;
        const at = parts.push(new Float32Array(0)) - 1;
        // push copies the block before it returns its promise: the decoder may reuse its buffer.
        inFlight = vad.push(block).then((probs) => {
          parts[at] = probs;
        });
      },
    });
    await inFlight;
  } finally {
    // Frees the stream's state on the VAD thread whatever happened (after the push in flight: the thread
    // answers a stream's requests in order); its last frame counts on success.
    await inFlight.catch(() => undefined);
    parts.push(await vad.finish());
  }
  const probs = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    probs.set(p, at);
    at += p.length;
  }
  const planned = planSpeechChunks(probs, samples);
  const chunks: ChunkSpan[] = [];
  for (const c of planned.chunks) {
    opts.signal?.throwIfAborted();
    chunks.push(await withChunkHashesFromFile(outFile, c, blockSamples));
  }
  return { samples, chunks, speechSeconds: planned.speechSeconds, blocks, vadMs: vad.busyMs };
}
