/**
 * onnxruntime-node sessions that run synchronously, straight on the native binding. Node-only.
 *
 * The public `InferenceSession.run` of onnxruntime-node 1.24.3 (`dist/backend.js`) defers every run with
 * `setImmediate` and onnxruntime-common validates feeds and fetches and re-wraps the outputs around it; the
 * native call itself (`dist/binding.js` → `onnxruntime_binding.node`, `InferenceSessionWrap::Run` in
 * microsoft/onnxruntime js/node/src/inference_session_wrap.cc) is synchronous and already returns Tensors
 * (`initOrtOnce` hands it onnxruntime-common's Tensor constructor). The engine runs on its own thread
 * (engine/thread.ts), whose event loop has nothing else to serve during a run, so the hop buys nothing there; it
 * cost 220 us per run for tiny.en and 441 us for base (bench/profile-engine.ts, 165 runs per jfk ×3 transcription).
 *
 * The binding is a package internal: it is used only on the onnxruntime-node release it was checked on
 * ({@link SYNC_BINDING_VERSIONS}) and only when it has the shape read here; otherwise the public API, with one
 * warning per process.
 */
import * as ort from 'onnxruntime-node';
import type { ModelSession, SessionFactory } from './model';

/** onnxruntime-node releases whose `dist/binding` this module was checked against (package-lock pins 1.24.3). */
export const SYNC_BINDING_VERSIONS = /^1\.24\./;

/** `dist/binding.d.ts` of onnxruntime-node 1.24.3: the parts used here. */
interface NativeSession {
  loadModel(modelPath: string, options: ort.InferenceSession.SessionOptions): void;
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: ort.InferenceSession.SessionOptions): void;
  readonly inputMetadata: readonly { name: string }[];
  readonly outputMetadata: readonly { name: string }[];
  run(feeds: ort.InferenceSession.FeedsType, fetches: ort.InferenceSession.NullableOnnxValueMapType): ort.InferenceSession.ReturnType;
  dispose(): void;
}
interface BindingModule {
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
}

/**
 * A synchronous run never lets the thread's event loop turn, and a transcription awaits only settled promises
 * between runs: without a turn, the engine thread would not see a `cancel` (engine/thread.ts aborts between windows)
 * or another request to interleave or batch with (engine/batcher.ts) until the whole transcription ended. So a run
 * that starts this long after the last turn still goes through one setImmediate first: at most one hop per 50 ms
 * of runs, where the public API hops on every run (a cached decoder step takes 2-4 ms); a request waits at most
 * one run longer than before (the public API's longest wait was one run too: an encoder run blocks 0.2-0.9 s).
 */
export const YIELD_EVERY_MS = 50;
let lastTurn = -Infinity;

type Binding = { ok: true; binding: BindingModule } | { ok: false; reason: string };
let cached: Binding | null = null;
let warned = false;

/** The native binding when it is usable here, else why not. Checked once per process. */
function nativeBinding(): Binding {
  if (cached) return cached;
  try {
    const version = (require('onnxruntime-node/package.json') as { version: string }).version;
    if (!SYNC_BINDING_VERSIONS.test(version)) {
      return (cached = { ok: false, reason: `onnxruntime-node ${version} is not a release its binding was checked on (${SYNC_BINDING_VERSIONS})` });
    }
    const b = require('onnxruntime-node/dist/binding') as Partial<BindingModule>;
    const proto = b.binding?.InferenceSession?.prototype as Partial<NativeSession> | undefined;
    if (typeof b.initOrt !== 'function' || !proto || ['loadModel', 'run', 'dispose'].some((m) => typeof proto[m as keyof NativeSession] !== 'function')) {
      return (cached = { ok: false, reason: `onnxruntime-node ${version}'s dist/binding lacks initOrt or InferenceSession.loadModel/run/dispose` });
    }
    return (cached = { ok: true, binding: b as BindingModule });
  } catch (err) {
    return (cached = { ok: false, reason: `onnxruntime-node's dist/binding did not load (${(err as Error).message.split('\n')[0]})` });
  }
}

/**
 * A session over the native binding with the part of `InferenceSession` that WhisperModel uses. `run` runs at once
 * on the calling thread and returns a settled promise (except after {@link YIELD_EVERY_MS} without an event-loop
 * turn: then one setImmediate first); it validates what onnxruntime-common validates (every input
 * fed, fetch names known: the binding itself ignores unknown names) with the same messages.
 */
export class SyncSession implements ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly outputSet: ReadonlySet<string>;
  /** fetch-name arrays already turned into the binding's {name: null} form (the engine passes a few fixed arrays) */
  private readonly fetchForms = new WeakMap<readonly string[], Record<string, null>>();
  private allOutputs: Record<string, null> | null = null;

  constructor(private readonly native: NativeSession) {
    this.inputNames = native.inputMetadata.map((m) => m.name);
    this.outputNames = native.outputMetadata.map((m) => m.name);
    this.outputSet = new Set(this.outputNames);
  }

  run(feeds: ort.InferenceSession.FeedsType, fetches?: ort.InferenceSession.FetchesType): Promise<ort.InferenceSession.ReturnType> {
    try {
      for (const name of this.inputNames) {
        if (feeds[name] === undefined) throw new Error(`input '${name}' is missing in 'feeds'.`);
      }
      const form = this.fetchForm(fetches);
      if (performance.now() - lastTurn < YIELD_EVERY_MS) return Promise.resolve(this.native.run(feeds, form));
      return new Promise((resolve, reject) =>
        setImmediate(() => {
          lastTurn = performance.now();
          try {
            resolve(this.native.run(feeds, form));
          } catch (err) {
            reject(err);
          }
        }),
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The binding's fetches: {name: null} to let onnxruntime allocate, {name: Tensor} to write into that tensor (it
   * still returns a fresh copy: onnxruntime-node 1.24.3 copies every fetched output into a new ArrayBuffer).
   */
  private fetchForm(fetches?: ort.InferenceSession.FetchesType): ort.InferenceSession.NullableOnnxValueMapType {
    if (fetches === undefined) return (this.allOutputs ??= Object.fromEntries(this.outputNames.map((n) => [n, null])));
    if (!Array.isArray(fetches)) {
      const named = fetches as ort.InferenceSession.NullableOnnxValueMapType;
      for (const name of Object.keys(named)) this.checkOutput(name);
      return named;
    }
    const names = fetches as readonly string[];
    let form = this.fetchForms.get(names);
    if (!form) {
      if (names.length === 0) throw new TypeError("'fetches' cannot be an empty array.");
      form = {};
      for (const name of names) {
        this.checkOutput(name);
        form[name] = null;
      }
      this.fetchForms.set(names, form);
    }
    return form;
  }

  private checkOutput(name: string): void {
    if (!this.outputSet.has(name)) throw new RangeError(`'fetches' contains invalid output name: ${name}.`);
  }

  release(): Promise<void> {
    this.native.dispose();
    return Promise.resolve();
  }
}

/**
 * Creates a session for a graph file or bytes: a {@link SyncSession} on the native binding, else (a release or
 * build of onnxruntime-node without the binding checked here) the public `InferenceSession.create`, saying so once
 * per process through `warn`. The options go to the binding as the public API hands them over (it only drops
 * execution providers that are not registered; `cpu` and `cuda` are): threads, graph optimization level, the
 * `extra` config entries (allow_spinning) and the execution providers take effect the same way, and a provider that
 * cannot load throws here as it does there (node-loader.ts's CUDA fallback catches it).
 * @throws Error from onnxruntime when the graph or an execution provider cannot be loaded
 */
export async function createSyncSession(
  model: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions,
  warn?: (msg: string) => void,
): Promise<ModelSession> {
  const b = nativeBinding();
  if (!b.ok) {
    if (!warned) {
      warned = true;
      warn?.(`${b.reason}: running sessions through the public onnxruntime-node API (one setImmediate hop per run)`);
    }
    return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
  }
  b.binding.initOrt();
  const native = new b.binding.binding.InferenceSession();
  if (typeof model === 'string') native.loadModel(model, options);
  else native.loadModel(model.buffer, model.byteOffset, model.byteLength, options);
  return new SyncSession(native);
}

/** A {@link SessionFactory} over {@link createSyncSession}, for WhisperModel's small graphs (pick.ts). */
export function syncSessionFactory(warn?: (msg: string) => void): SessionFactory {
  return { create: (bytes, options) => createSyncSession(bytes, options ?? {}, warn) };
}
