// transformers.js peer for bench/engine.ts, run as its own node process so that its onnxruntime-node sessions
// (its own onnxruntime-node, 1.30.0 as transformers.js 4.3.2 pins it; ours is 1.24.3) have their own thread pools.
// usage: node bench/peers/transformers-js.mjs '{"modelsDir":…,"model":…,"pcm":…,"threads":2,"language":"en"|null}'
// Protocol (stdout, one JSON object per line prefixed with "@@"): {"ready":…} after the model is loaded,
// then for every "run" line on stdin {"seconds":…,"text":…}; "quit" ends it. Everything else on stdout is noise.
import * as fs from 'node:fs';
import * as readline from 'node:readline';

const opts = JSON.parse(process.argv[2]);
const reply = (obj) => process.stdout.write(`@@${JSON.stringify(obj)}\n`);

// It must not touch the network: any fetch is refused and reported.
const networkAttempts = [];
globalThis.fetch = async (url) => {
  networkAttempts.push(String(url));
  throw new Error(`bench: network access refused (${url})`);
};

try {
  const t0 = performance.now();
  const { pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = opts.modelsDir.endsWith('/') ? opts.modelsDir : `${opts.modelsDir}/`;
  env.useFSCache = false;
  env.useBrowserCache = false;
  const asr = await pipeline('automatic-speech-recognition', opts.model, {
    dtype: 'q8',
    device: 'cpu',
    local_files_only: true,
    session_options: { intraOpNumThreads: opts.threads, interOpNumThreads: 1 },
  });
  const buf = fs.readFileSync(opts.pcm);
  const pcm = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  // Long-form: transformers.js' chunked pipeline (30 s windows, default stride 30/6 s) — 2 windows for 33 s.
  const kwargs = { chunk_length_s: 30, return_timestamps: false };
  if (opts.language) Object.assign(kwargs, { language: opts.language, task: 'transcribe' });
  const pkg = JSON.parse(fs.readFileSync(new URL('../../node_modules/@huggingface/transformers/package.json', import.meta.url), 'utf8'));
  // the onnxruntime-node transformers.js itself resolves: its own nested copy when ours is pinned to another version
  const nested = new URL('../../node_modules/@huggingface/transformers/node_modules/onnxruntime-node/package.json', import.meta.url);
  const ortPkg = JSON.parse(fs.readFileSync(fs.existsSync(nested) ? nested : new URL('../../node_modules/onnxruntime-node/package.json', import.meta.url), 'utf8'));
  reply({ ready: true, loadSeconds: (performance.now() - t0) / 1000, version: pkg.version, ortVersion: ortPkg.version });

  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim() === 'quit') break;
    try {
      const s = performance.now();
      const out = await asr(pcm, kwargs);
      reply({ seconds: (performance.now() - s) / 1000, text: out.text, networkAttempts: networkAttempts.length });
    } catch (err) {
      reply({ error: String(err?.message ?? err), networkAttempts: networkAttempts.length });
    }
  }
  await asr.dispose?.();
  process.exit(0);
} catch (err) {
  reply({ error: String(err?.stack ?? err), networkAttempts });
  process.exit(1);
}
