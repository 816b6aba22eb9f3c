/**
 * engine/ort-load.ts: a process whose VAD thread (a worker thread) is the first user of onnxruntime-node can still
 * load it in the main thread afterwards. Without loadOrtBeforeSpawning the main thread's load threw "Module did
 * not self-register" (the addon registers itself once per process, with the thread that loaded it first).
 * Jest runs many files in one process, so the check runs in a fresh Node process of its own.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

test('after the VAD thread loaded onnxruntime-node, the main thread loads it too', () => {
  const script = `
    const { VadThread } = require(${JSON.stringify(path.join(ROOT, 'audio/vad-client'))});
    const alive = setInterval(() => {}, 1000); // the VAD thread is unref'd: keep the process up until done
    (async () => {
      const s = VadThread.shared().open();
      const probs = await s.push(new Float32Array(16000));
      await s.finish();
      await VadThread.closeShared();
      const ort = require('onnxruntime-node');
      console.log(JSON.stringify({ frames: probs.length, tensor: typeof ort.Tensor }));
    })()
      .catch((e) => console.log(JSON.stringify({ error: e.message })))
      .finally(() => clearInterval(alive));`;
  const out = execFileSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ frames: 31, tensor: 'function' });
});
