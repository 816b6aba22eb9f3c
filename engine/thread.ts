/**
 * Worker-thread entry that owns the ONNX sessions. onnxruntime-node's `run` blocks its thread for the
 * whole run (measured: 851 ms of event-loop lag for an 860 ms encoder run; test/integration/engine.test.ts checks the loop stays free), so inference
 * lives here and the activity worker's event loop keeps heartbeating and polling.
 * Transcriptions run concurrently: each model's dynamic batcher gathers their windows into shared
 * model runs, and a run blocks this thread, so runs never overlap.
 */
import { parentPort } from 'node:worker_threads';
import { loadWhisper } from './node-loader';
import type { WhisperTranscriber } from './transcriber';
import type { EngineRequest, EngineResponse, LoadRequest } from './protocol';

if (!parentPort) throw new Error('engine/thread must run in a worker thread');
const port = parentPort;
const models = new Map<string, Promise<WhisperTranscriber>>();
const inFlight = new Map<number, { controller: AbortController; done: Promise<void> }>();

function model(dir: string, opts: LoadRequest): Promise<WhisperTranscriber> {
  let m = models.get(dir);
  if (!m) {
    m = loadWhisper(dir, { ...opts, warn: (message) => port.postMessage({ type: 'warning', message }) });
    models.set(dir, m);
    m.catch(() => models.delete(dir));
  }
  return m;
}

async function handle(req: EngineRequest): Promise<EngineResponse | null> {
  switch (req.type) {
    case 'load':
      await model(req.modelDir, req.load);
      return { id: req.id, ok: true, result: null };
    case 'detect': {
      const t = await model(req.modelDir, req.load);
      const t0 = performance.now();
      const r = await t.detectLanguage(req.samples);
      return { id: req.id, ok: true, result: { ...r, inferenceMs: performance.now() - t0 } };
    }
    case 'cancel':
      inFlight.get(req.target)?.controller.abort();
      return null;
    case 'transcribe': {
      const t = await model(req.modelDir, req.load);
      const t0 = performance.now();
      const controller = new AbortController();
      const run = t.transcribe(req.samples, { language: req.language, task: req.task, prompt: req.prompt, seed: req.seed, wordTimestamps: req.wordTimestamps, temperature: req.temperature, fallback: req.fallback }, controller.signal);
      inFlight.set(req.id, { controller, done: run.then(() => undefined, () => undefined) });
      try {
        const result = await run;
        return { id: req.id, ok: true, result: { ...result, inferenceMs: performance.now() - t0 } };
      } finally {
        inFlight.delete(req.id);
      }
    }
    case 'close':
      // Let running transcriptions end, free the sessions, then end the thread: terminating a thread
      // inside an onnxruntime run aborts the whole process.
      await Promise.all([...inFlight.values()].map((f) => f.done));
      for (const m of models.values()) await (await m).model.release().catch(() => undefined);
      models.clear();
      port.postMessage({ id: req.id, ok: true, result: null });
      port.close();
      return null;
  }
}

port.on('message', (req: EngineRequest) => {
  handle(req).then(
    (res) => res && port.postMessage(res),
    (err: Error) => port.postMessage({ id: req.id, ok: false, error: err.message }),
  );
});
