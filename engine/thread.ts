/**
 * Worker-thread entry that owns the ONNX sessions. onnxruntime-node's `run` blocks its thread for the
 * whole run (../shared/FACTS.md: 851 ms of event-loop lag for an 860 ms encoder run), so inference
 * lives here and the activity worker's event loop keeps heartbeating and polling.
 */
import { parentPort } from 'node:worker_threads';
import { loadWhisper, type LoadOptions } from './node-loader';
import type { WhisperTranscriber, TranscribeOptions } from './transcriber';
import type { EngineRequest, EngineResponse } from './protocol';

if (!parentPort) throw new Error('engine/thread must run in a worker thread');
const port = parentPort;
const models = new Map<string, Promise<WhisperTranscriber>>();

function model(dir: string, opts: LoadOptions): Promise<WhisperTranscriber> {
  let m = models.get(dir);
  if (!m) {
    m = loadWhisper(dir, { ...opts, warn: (message) => port.postMessage({ type: 'warning', message }) });
    models.set(dir, m);
    m.catch(() => models.delete(dir));
  }
  return m;
}

// Requests are served one at a time: a model run already uses every intra-op thread.
let chain: Promise<void> = Promise.resolve();

port.on('message', (req: EngineRequest) => {
  chain = chain.then(async () => {
    let res: EngineResponse;
    try {
      if (req.type === 'close') {
        // Finish what is queued (this runs after it on the chain), free the sessions, then end the thread:
        // terminating a thread inside an onnxruntime run aborts the whole process.
        for (const m of models.values()) await (await m).model.release().catch(() => undefined);
        models.clear();
        port.postMessage({ id: req.id, ok: true, result: null });
        port.close();
        return;
      } else if (req.type === 'load') {
        await model(req.modelDir, req.load);
        res = { id: req.id, ok: true, result: null };
      } else {
        const t = await model(req.modelDir, req.load);
        const t0 = performance.now();
        const opts: TranscribeOptions = { language: req.language, task: req.task };
        const result = await t.transcribe(req.samples, opts);
        res = { id: req.id, ok: true, result: { ...result, inferenceMs: performance.now() - t0 } };
      }
    } catch (err) {
      res = { id: req.id, ok: false, error: (err as Error).message };
    }
    port.postMessage(res);
  });
});
