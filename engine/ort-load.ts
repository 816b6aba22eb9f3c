/**
 * onnxruntime-node's addon must be loaded by the thread that spawns the threads using it, before it spawns them.
 *
 * Measured with onnxruntime-node 1.24.3 on Node 20 (`node_modules/onnxruntime-node/bin/napi-v6/.../
 * onnxruntime_binding.node`): when a worker thread is the first to load the addon, every later load in the same
 * process (the main thread, or a second worker thread, even after the first one ended) throws "Module did not
 * self-register": the library registers itself from the static constructor `dlopen` runs once per process, and
 * only the thread that triggered it receives that registration. When the main thread loads it first, worker
 * threads load it afterwards without error. A process here can hold an engine thread (engine/client.ts) and a
 * VAD thread (audio/vad-client.ts), and tests run many files in one Jest worker process: without this, whichever
 * started second failed (`test/unit/prepare-cancel.test.ts`, whose VAD thread loaded it first, broke the next
 * test file of its Jest worker that used onnxruntime).
 *
 * Idempotent and cheap after the first call (Node's module cache).
 */
export function loadOrtBeforeSpawning(): void {
  require('onnxruntime-node');
}
