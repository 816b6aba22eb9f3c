/**
 * Builds the privacy-mode page's scripts with esbuild: the page (main thread) and its engine worker,
 * which bundles the server's own engine modules (engine/) with onnxruntime-web and
 * @huggingface/tokenizers for the browser. onnxruntime-web's wasm files are not bundled: the worker
 * loads them from our origin (`env.wasm.wasmPaths`), so the `onnxruntime-web-use-extern-wasm`
 * condition picks the build that does not inline them.
 */
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { REPO_ROOT } from '../../common/config';

export interface EdgeBundle {
  /** file name → JavaScript source */
  files: Map<string, string>;
  /** sha256 (hex, first 16) of all outputs, for cache-busting URLs */
  version: string;
}

const ENTRIES = { 'edge-page': 'edge/page/main.ts', 'edge-worker': 'edge/page/worker.ts' } as const;

/** Bundles the page and worker in memory (about a second on two cores). */
export async function buildEdgeBundle(): Promise<EdgeBundle> {
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([k, v]) => [k, path.join(REPO_ROOT, v)])),
    bundle: true,
    write: false,
    outdir: '/edge-assets',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['onnxruntime-web-use-extern-wasm'],
    // audio/silero-vad.ts (the service's VAD frame loop, which the worker runs too) imports
    // onnxruntime-node for its Tensor; in the browser that is onnxruntime-web's, the same API.
    alias: { 'onnxruntime-node': 'onnxruntime-web/wasm' },
    minify: true,
    sourcemap: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const files = new Map<string, string>();
  const crypto = await import('node:crypto');
  const h = crypto.createHash('sha256');
  for (const f of result.outputFiles) {
    files.set(path.basename(f.path), f.text);
    h.update(f.text);
  }
  return { files, version: h.digest('hex').slice(0, 16) };
}
