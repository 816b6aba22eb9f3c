/**
 * Worker-thread entry that owns the Silero VAD session (audio/silero-vad.ts): onnxruntime-node's `run`
 * blocks its thread, so the activity worker's event loop (heartbeats, polling) never waits on VAD.
 * Streams are multiplexed by id; each has its own state, all share one session; messages of one
 * stream are handled in order.
 */
import { parentPort } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { loadSileroVad, SileroVadStream } from './silero-vad';
import { VadGainStream, VadRunningGainStream, type ProbabilityStream } from './vad-gain';

/** To the thread. */
export type VadRequest =
  /**
   * `levelled`: quiet input is raised (audio/vad-gain.ts): `true` per 30 s window (VadGainStream, whole-file
   * preparation), `'running'` per frame by the running peak (VadRunningGainStream, live streams, no delay)
   */
  | { type: 'open'; id: number; levelled?: boolean | 'running' }
  | { type: 'push'; id: number; block: Float32Array }
  | { type: 'finish'; id: number }
  | { type: 'close' };
/** From the thread: the probabilities of the frames completed, `done` on finish, or the error. */
export type VadResponse = { id: number; probs: Float32Array; done: boolean } | { id: number; error: string };

if (!parentPort) throw new Error('audio/vad-thread must run in a worker thread');
const port = parentPort;
let session: Promise<ort.InferenceSession> | null = null;
const streams = new Map<number, ProbabilityStream>();
let queue: Promise<void> = Promise.resolve();

async function handle(req: VadRequest): Promise<void> {
  if (req.type === 'close') {
    if (session) await (await session).release().catch(() => undefined);
    port.close();
    return;
  }
  try {
    if (req.type === 'open') {
      session ??= loadSileroVad();
      const stream = new SileroVadStream(await session);
      streams.set(req.id, req.levelled === 'running' ? new VadRunningGainStream(stream) : req.levelled ? new VadGainStream(stream) : stream);
      return;
    }
    const stream = streams.get(req.id);
    if (!stream) throw new Error(`unknown VAD stream ${req.id}`);
    if (req.type === 'push') {
      const probs = await stream.push(req.block);
      port.postMessage({ id: req.id, probs, done: false } satisfies VadResponse, [probs.buffer as ArrayBuffer]);
    } else {
      const probs = await stream.finish();
      streams.delete(req.id);
      port.postMessage({ id: req.id, probs, done: true } satisfies VadResponse, [probs.buffer as ArrayBuffer]);
    }
  } catch (err) {
    if (req.type !== 'open') streams.delete(req.id);
    port.postMessage({ id: req.id, error: (err as Error).message } satisfies VadResponse);
  }
}

// In arrival order: a stream's frames must be run in sequence (the state carries).
port.on('message', (req: VadRequest) => {
  queue = queue.then(() => handle(req));
});
