/**
 * bench:pipeline's ≥ 9-minute file, built in one place for the two benchmarks that use it (bench/pipeline.ts times
 * the service on it; bench/eval-wer.ts scores it as a row of the long set, so a planner that loses passages there
 * shows in the WER table too): jfk and the two voices of ../shared/audio/stereo_diarization.wav in turn, separated by
 * pauses of 0.3 … 8 s cycled (short ones Whisper keeps inside a window, long ones our VAD removes), until at least
 * 9 min 20 s. 16 kHz mono float32.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { SAMPLE_RATE } from '../engine/constants';

const AUDIO = path.resolve(__dirname, '../../shared/audio');
/** pauses between utterances in seconds, cycled */
export const TALK_PAUSES = [0.3, 0.8, 1.5, 0.5, 3, 1, 8, 0.6, 2, 5];
/** the file is at least this long, in seconds */
export const TALK_MIN_SECONDS = 9 * 60 + 20;
/** the utterances in the order they are cycled: 0 jfk, 1 stereo_diarization left, 2 right */
export const TALK_UTTERANCES = ['jfk', 'stereo_diarization left', 'stereo_diarization right'] as const;

function decodeMono(file: string, filter?: string): Float32Array {
  const buf = execFileSync('ffmpeg', ['-v', 'error', '-i', file, ...(filter ? ['-af', filter] : ['-ac', '1']), '-ar', String(SAMPLE_RATE), '-f', 'f32le', '-'], {
    maxBuffer: 64 << 20,
  });
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

/**
 * @returns the samples, and each utterance's place: index into TALK_UTTERANCES, start and end of its speech and end of
 *   the pause after it (seconds)
 */
export function buildTalk(): { samples: Float32Array; pieces: { utterance: number; start: number; end: number; pauseEnd: number }[] } {
  const utterances = [
    decodeMono(path.join(AUDIO, 'jfk.wav')),
    decodeMono(path.join(AUDIO, 'stereo_diarization.wav'), 'pan=mono|c0=c0'),
    decodeMono(path.join(AUDIO, 'stereo_diarization.wav'), 'pan=mono|c0=c1'),
  ];
  const parts: Float32Array[] = [];
  const pieces: { utterance: number; start: number; end: number; pauseEnd: number }[] = [];
  let n = 0;
  for (let k = 0; n < TALK_MIN_SECONDS * SAMPLE_RATE; k++) {
    const u = utterances[k % utterances.length];
    const pause = new Float32Array(Math.round(TALK_PAUSES[k % TALK_PAUSES.length] * SAMPLE_RATE));
    parts.push(u, pause);
    pieces.push({ utterance: k % utterances.length, start: n / SAMPLE_RATE, end: (n + u.length) / SAMPLE_RATE, pauseEnd: (n + u.length + pause.length) / SAMPLE_RATE });
    n += u.length + pause.length;
  }
  const samples = new Float32Array(n);
  let at = 0;
  for (const p of parts) {
    samples.set(p, at);
    at += p.length;
  }
  return { samples, pieces };
}
