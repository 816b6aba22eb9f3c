/** Types that cross the boundary of a live (WebSocket) stream's workflow: ids and blob keys only. */
import type { Backend, Tier } from './constants';

export interface LiveSessionInput {
  jobId: string;
  userId: string;
  tier: Tier;
  model: string;
  backend: Backend;
  /** ISO 639-1, or null to detect on each window */
  language: string | null;
  fairnessWeight: number;
  /** the longest the stream may last (its reservation), seconds: the workflow gives up after this plus slack */
  maxSeconds: number;
}

/** One window of a live stream to decode: its 16 kHz mono float32 samples are at `windowKey` in the blob store. */
export interface LiveWindow {
  /** increases per stream; the result row is keyed by it */
  seq: number;
  kind: 'partial' | 'final';
  windowKey: string;
  /** the utterance's index (the chunk index its final is stored under) */
  utterance: number;
  /** window start and end on the stream's time line, seconds */
  start: number;
  end: number;
}

/** The stream ended: what was streamed (and so billed). */
export interface LiveFinish {
  audioSeconds: number;
  billedSeconds: number;
  /** set when a protocol error ended the stream: the job ends `failed` with it */
  error?: { code: string; message: string };
}
