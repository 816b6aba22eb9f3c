/**
 * The edge plan (the 202 body's `edge`, docs/api.md `POST /v1/jobs`): which model the browser can hold, and the model files it downloads,
 * each with its sha256 and size so the page verifies it before use.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { MODEL_FILES } from '../../engine/files';

/**
 * What the page reports about the device (`capabilities` field of `POST /v1/jobs`, JSON). Every field
 * is optional: a capability not reported is unknown, and judged as when no capabilities are sent at
 * all (a modest device), so `{"wasmSimd": false}` alone is a device that cannot (422), not a bad request.
 */
export const capabilitiesSchema = z
  .object({
    wasmSimd: z.boolean().optional(),
    wasmThreads: z.boolean().optional(),
    /** navigator.deviceMemory (GB, rounded by the browser; null or absent where the browser does not tell) */
    deviceMemoryGb: z.number().min(0).max(1024).nullable().optional(),
    hardwareConcurrency: z.number().int().min(1).max(1024).optional(),
  })
  .strict();
export type Capabilities = z.infer<typeof capabilitiesSchema>;

/**
 * Device memory each model needs, in GB of `navigator.deviceMemory`: the int8 files (61 MB tiny.en,
 * 103 MB base), their copies inside the WASM heap and the session arenas come to a few hundred MB;
 * a browser tab should not take more than about a tenth of the device.
 */
export const EDGE_MODELS: { model: string; minMemoryGb: number; multilingual: boolean }[] = [
  { model: 'whisper-base', minMemoryGb: 4, multilingual: true },
  { model: 'whisper-tiny.en', minMemoryGb: 1, multilingual: false },
];
/** Where the browser does not report memory (Firefox, Safari), assume a modest device. */
const UNKNOWN_MEMORY_GB = 2;

export type EdgeModelChoice = { ok: true; model: string } | { ok: false; reason: string };

/**
 * The largest model the device can hold that fits the request, or why edge is not possible.
 * onnxruntime-web 1.30 ships only the SIMD build, so no SIMD means no edge. Without capabilities
 * (an API client that did not ask the device) the device is assumed modest.
 */
export function chooseEdgeModel(
  caps: Capabilities | undefined,
  req: { model?: string; language?: string; task?: string },
  installed: readonly string[],
): EdgeModelChoice {
  if (caps?.wasmSimd === false) return { ok: false, reason: 'the browser lacks WebAssembly SIMD, which onnxruntime-web needs' };
  const memory = caps?.deviceMemoryGb ?? UNKNOWN_MEMORY_GB;
  const englishOk = (req.language === undefined || req.language === 'en') && req.task !== 'translate';
  const candidates = EDGE_MODELS.filter(
    (m) => installed.includes(m.model) && (m.multilingual || englishOk) && (!req.model || req.model === m.model),
  );
  if (req.model && candidates.length === 0) {
    return { ok: false, reason: `model '${req.model}' cannot run in the browser for this request (edge models: ${EDGE_MODELS.map((m) => m.model).join(', ')})` };
  }
  const fit = candidates.find((m) => memory >= m.minMemoryGb);
  if (!fit) {
    return { ok: false, reason: `the device reports ${memory} GB of memory; the smallest fitting model needs ${candidates.at(-1)?.minMemoryGb ?? '?'} GB` };
  }
  return { ok: true, model: fit.model };
}

export interface ModelFileInfo {
  /** path inside the model folder */
  file: string;
  sha256: string;
  bytes: number;
}

/**
 * sha256 and size of each model file, hashed once per file version (path, size, mtime) and kept:
 * hashing 100 MB takes about a second, so it happens on the first edge job, not on every one.
 */
export class ModelManifest {
  private readonly cache = new Map<string, Promise<ModelFileInfo>>();

  constructor(readonly modelsDir: string) {}

  /** Absolute path of a model file, or null when it is not one the page may fetch. */
  resolve(model: string, file: string): string | null {
    if (!(MODEL_FILES as readonly string[]).includes(file) || !/^[A-Za-z0-9._-]+$/.test(model)) return null;
    const abs = path.join(this.modelsDir, model, file);
    return fs.existsSync(abs) ? abs : null;
  }

  /** The files of one model with hashes; rejects if the folder lacks one. */
  async files(model: string): Promise<ModelFileInfo[]> {
    return Promise.all(MODEL_FILES.map((f) => this.info(model, f)));
  }

  private info(model: string, file: string): Promise<ModelFileInfo> {
    const abs = this.resolve(model, file);
    if (!abs) return Promise.reject(new Error(`model ${model} lacks ${file}`));
    const st = fs.statSync(abs);
    const key = `${abs}:${st.size}:${st.mtimeMs}`;
    let p = this.cache.get(key);
    if (!p) {
      p = new Promise<ModelFileInfo>((resolve, reject) => {
        const h = crypto.createHash('sha256');
        fs.createReadStream(abs)
          .on('data', (d) => h.update(d))
          .on('error', reject)
          .on('end', () => resolve({ file, sha256: h.digest('hex'), bytes: st.size }));
      });
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }
}

/** URL of a model file; the hash in the query makes a year-long immutable cache safe across updates. */
export function modelFileUrl(origin: string, model: string, f: ModelFileInfo): string {
  return `${origin}/edge/models/${encodeURIComponent(model)}/${f.file}?v=${f.sha256.slice(0, 16)}`;
}

const manifests = new Map<string, ModelManifest>();
/** The process's one manifest per models folder (its hashes are computed once). */
export function manifestFor(modelsDir: string): ModelManifest {
  let m = manifests.get(modelsDir);
  if (!m) manifests.set(modelsDir, (m = new ModelManifest(modelsDir)));
  return m;
}
