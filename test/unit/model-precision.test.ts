/**
 * Which graphs a worker loads, and the refusal of a GPU worker whose model folder holds only int8 graphs
 * (MatMulInteger/ConvInteger/DynamicQuantizeLinear have no CUDA kernels: it would run on the CPU).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GRAPH_FILES, type Precision } from '../../engine/files';
import * as crypto from 'node:crypto';
import { chooseCpuGraphs, choosePrecision, ct2Graphs, defaultCpuPrecision, floatGraphs, floatModelsRoot, Int8OnCudaError, perRowGraphs, WEIGHT_VARIANTS } from '../../engine/precision';
import registry from '../../config/models.json';
import { loadConfig } from '../../common/config';
import { assertGpuModelsUsable, installedModels } from '../../workers/factory';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-precision-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A model folder with (empty) graph files of the given precisions. */
function folder(name: string, precisions: Precision[]): string {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const p of precisions) for (const f of Object.values(GRAPH_FILES[p])) fs.writeFileSync(path.join(dir, f), '');
  return dir;
}

test('CPU loads int8 when present, else fp32; CUDA prefers fp16, then fp32', () => {
  expect(choosePrecision(folder('a', ['int8', 'fp32', 'fp16']), 'cpu')).toBe('int8');
  expect(choosePrecision(folder('b', ['fp32']), 'cpu')).toBe('fp32');
  expect(choosePrecision(folder('c', ['int8', 'fp32', 'fp16']), 'cuda')).toBe('fp16');
  expect(choosePrecision(folder('d', ['int8', 'fp32']), 'cuda')).toBe('fp32');
});

test('CUDA with int8 graphs only is refused, and the message says why and what to do', () => {
  const dir = folder('int8-only', ['int8']);
  expect(() => choosePrecision(dir, 'cuda')).toThrow(Int8OnCudaError);
  let message = '';
  try {
    choosePrecision(dir, 'cuda');
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toContain(dir);
  expect(message).toMatch(/MatMulInteger, ConvInteger and DynamicQuantizeLinear nodes have no CUDA kernels/);
  expect(message).toMatch(/would run on the CPU/);
  expect(message).toContain('infra/models/dequantize.py');
});

test('a folder with half a pair of graphs is not taken for that precision', () => {
  const dir = folder('half', ['int8']);
  fs.writeFileSync(path.join(dir, GRAPH_FILES.fp16.encoder), ''); // no fp16 decoder
  expect(() => choosePrecision(dir, 'cuda')).toThrow(Int8OnCudaError);
});

test('a GPU queue worker with CUDA requested refuses int8-only folders before loading anything; CPU queues and WHISPER_EP=cpu do not', () => {
  folder('whisper-tiny.en', ['int8']);
  folder('whisper-base', ['int8', 'fp16']);
  const cuda = { executionProvider: 'cuda' as const, modelsDir: root };
  expect(installedModels(root)).toEqual(['whisper-base', 'whisper-tiny.en']);
  expect(() => assertGpuModelsUsable(cuda, 'gpu-reserved', installedModels(root))).toThrow(/whisper-tiny\.en has only int8 graphs/);
  expect(() => assertGpuModelsUsable(cuda, 'gpu-spot', ['whisper-base'])).not.toThrow();
  expect(() => assertGpuModelsUsable(cuda, 'cpu', installedModels(root))).not.toThrow();
  expect(() => assertGpuModelsUsable({ ...cuda, executionProvider: 'cpu' }, 'gpu-ondemand', installedModels(root))).not.toThrow();
});

/**
 * A shipped int8 folder `models/<name>` and a folder `<rootName>/<name>` derived from it holding `files` (each file's
 * bytes are `<prefix> <file>`), with the built-from.json manifest the infra/models scripts write (sha256 of the
 * shipped sources and of the derived graphs).
 */
function derivedFolder(name: string, rootName: string, files: readonly string[], prefix: string, tool?: string) {
  const src = path.join(root, 'models', name);
  const derivedRoot = path.join(root, rootName);
  const dst = path.join(derivedRoot, name);
  const sha = (b: string) => ({ sha256: crypto.createHash('sha256').update(b).digest('hex'), bytes: Buffer.byteLength(b) });
  const write = (dir: string, f: string, bytes: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), bytes);
    return sha(bytes);
  };
  const sources: Record<string, { sha256: string; bytes: number }> = {};
  const graphs: Record<string, { sha256: string; bytes: number }> = {};
  for (const f of Object.values(GRAPH_FILES.int8)) sources[f] = write(src, f, `shipped ${f}`);
  for (const f of files) graphs[f] = write(dst, f, `${prefix} ${f}`);
  fs.writeFileSync(path.join(dst, 'built-from.json'), JSON.stringify({ ...(tool ? { tool } : {}), sources, graphs }));
  return { src, dst, derivedRoot };
}

/** A shipped model folder with int8 graphs, and a per-row folder derived from it whose graphs hold `derivedBytes`. */
function perRowPair(name: string, derivedBytes: string) {
  return derivedFolder(name, 'models-per-row', Object.values(GRAPH_FILES.int8), derivedBytes, 'infra/models/per_row_quant.py');
}

test('per-row int8 graphs are used only when their manifest matches the shipped graphs and themselves', () => {
  const { src, dst, derivedRoot } = perRowPair('whisper-tiny.en', 'per-row');
  expect(perRowGraphs(src, derivedRoot)).toEqual({
    encoder: path.join(dst, GRAPH_FILES.int8.encoder),
    decoder: path.join(dst, GRAPH_FILES.int8.decoder),
  });
  // shipped file replaced (a new model version): the derived graphs belong to the old one
  fs.writeFileSync(path.join(src, GRAPH_FILES.int8.decoder), 'a newer decoder');
  expect(perRowGraphs(src, derivedRoot)).toEqual({ missing: expect.stringMatching(/was built from another .*decoder.*rebuild/) });
});

test('per-row int8 graphs that were altered, half written or never built are not used', () => {
  const { src, dst, derivedRoot } = perRowPair('whisper-base', 'per-row');
  fs.appendFileSync(path.join(dst, GRAPH_FILES.int8.encoder), 'x');
  expect(perRowGraphs(src, derivedRoot)).toEqual({ missing: expect.stringMatching(/does not match its manifest/) });
  fs.rmSync(path.join(dst, 'built-from.json'));
  expect(perRowGraphs(src, derivedRoot)).toEqual({ missing: expect.stringMatching(/built-from\.json does not exist .*per-row-models\.sh/) });
  expect(perRowGraphs(path.join(root, 'models', 'whisper-small'), derivedRoot)).toEqual({ missing: expect.stringMatching(/does not exist/) });
});

/** A shipped int8 folder and a models-ct2 folder rebuilt from it (fp32 + int8), with a matching manifest. */
function ct2Pair(name: string) {
  const files = (['int8', 'fp32'] as const).flatMap((p) => Object.values(GRAPH_FILES[p]));
  const { src, dst, derivedRoot } = derivedFolder(name, 'models-ct2', files, 'ct2', 'infra/models/ct2_graphs.py');
  return { src, dst, ct2Root: derivedRoot };
}

test('CTranslate2-weight graphs are used per precision only when their manifest matches the shipped graphs and themselves', () => {
  const { src, dst, ct2Root } = ct2Pair('whisper-tiny.en');
  for (const p of ['int8', 'fp32'] as const) {
    expect(ct2Graphs(src, p, ct2Root)).toEqual({ encoder: path.join(dst, GRAPH_FILES[p].encoder), decoder: path.join(dst, GRAPH_FILES[p].decoder) });
  }
  expect(ct2Graphs(src, 'fp16', ct2Root)).toEqual({ missing: expect.stringMatching(/no fp16/) });
  // an altered rebuilt graph is refused for its precision only
  fs.appendFileSync(path.join(dst, GRAPH_FILES.fp32.decoder), 'x');
  expect(ct2Graphs(src, 'fp32', ct2Root)).toEqual({ missing: expect.stringMatching(/does not match its manifest/) });
  expect(ct2Graphs(src, 'int8', ct2Root)).toHaveProperty('encoder');
  // a new shipped model version: the rebuilt graphs belong to the old structure
  fs.writeFileSync(path.join(src, GRAPH_FILES.int8.encoder), 'a newer encoder');
  expect(ct2Graphs(src, 'int8', ct2Root)).toEqual({ missing: expect.stringMatching(/was built from another .*encoder.*ct2-models\.sh/) });
  fs.rmSync(path.join(dst, 'built-from.json'));
  expect(ct2Graphs(src, 'int8', ct2Root)).toEqual({ missing: expect.stringMatching(/built-from\.json does not exist .*ct2-models\.sh/) });
});

test('WHISPER_WEIGHTS picks the loader options of a weight variant; unknown values are refused at start-up', () => {
  expect(loadConfig({}).weightVariant).toBe('shipped');
  expect(WEIGHT_VARIANTS[loadConfig({ WHISPER_WEIGHTS: 'ct2-int8' }).weightVariant!]).toEqual({ weights: 'ct2', precision: 'int8' });
  expect(WEIGHT_VARIANTS[loadConfig({ WHISPER_WEIGHTS: 'ct2-fp32' }).weightVariant!]).toEqual({ weights: 'ct2', precision: 'fp32' });
  // benchmarks' `shipped` row is the int8 files as shipped; a worker replaces cpuPrecision with WHISPER_CPU_PRECISION
  expect(WEIGHT_VARIANTS.shipped).toEqual({ cpuPrecision: 'int8' });
  expect(() => loadConfig({ WHISPER_WEIGHTS: 'fp64' })).toThrow(/WHISPER_WEIGHTS/);
});

/** A shipped int8 folder and a models-float folder dequantised from it (fp32), manifest as float-models.sh writes it. */
function floatPair(name: string) {
  const { src, dst, derivedRoot } = derivedFolder(name, 'models-float', Object.values(GRAPH_FILES.fp32), 'fp32');
  const fp32 = { encoder: path.join(dst, GRAPH_FILES.fp32.encoder), decoder: path.join(dst, GRAPH_FILES.fp32.decoder) };
  return { src, dst, floatRoot: derivedRoot, fp32 };
}

test("WHISPER_CPU_PRECISION: unset means each model's own default; int8, fp32-encoder and fp32 selectable for all, anything else refused at start-up", () => {
  expect(loadConfig({}).cpuPrecision).toBeUndefined();
  expect(loadConfig({ WHISPER_CPU_PRECISION: 'fp32' }).cpuPrecision).toBe('fp32');
  expect(loadConfig({ WHISPER_CPU_PRECISION: 'int8' }).cpuPrecision).toBe('int8');
  expect(loadConfig({ WHISPER_CPU_PRECISION: 'fp32-encoder' }).cpuPrecision).toBe('fp32-encoder');
  expect(() => loadConfig({ WHISPER_CPU_PRECISION: 'fp16' })).toThrow(/WHISPER_CPU_PRECISION/);
});

test("each model's default CPU graphs come from config/models.json; a model it does not name, or names no valid value for, runs int8", () => {
  const models = registry.models as Record<string, { cpuPrecision?: string }>;
  for (const [name, info] of Object.entries(models)) {
    expect(defaultCpuPrecision(path.join('/m', name))).toBe(info.cpuPrecision ?? 'int8');
  }
  expect(defaultCpuPrecision('/m/whisper-unknown')).toBe('int8');
});

test('fp32-encoder: the checked fp32 encoder with the shipped int8 decoder, run as int8 (one window per run); the fp32 decoder is not needed', () => {
  const { src, dst, floatRoot } = floatPair('whisper-base');
  const mixed = { precision: 'int8', files: { encoder: path.join(dst, GRAPH_FILES.fp32.encoder), decoder: path.join(src, GRAPH_FILES.int8.decoder) } };
  expect(chooseCpuGraphs(src, 'fp32-encoder', '', floatRoot)).toEqual(mixed);
  // the fp32 decoder gone: fp32-encoder still runs, fp32 falls back
  fs.rmSync(path.join(dst, GRAPH_FILES.fp32.decoder));
  expect(chooseCpuGraphs(src, 'fp32-encoder', '', floatRoot)).toEqual(mixed);
  expect(chooseCpuGraphs(src, 'fp32', '', floatRoot)).toHaveProperty('warning');
  // a changed fp32 encoder: the shipped int8 graphs with one warning naming the setting and the build command
  fs.appendFileSync(path.join(dst, GRAPH_FILES.fp32.encoder), 'x');
  const r = chooseCpuGraphs(src, 'fp32-encoder', ', one window per model run', floatRoot);
  expect(r).toEqual({ precision: 'int8', files: null, warning: expect.any(String) });
  expect(r.warning).toMatch(/WHISPER_CPU_PRECISION=fp32-encoder.*encoder_model\.onnx does not match its manifest.*running its int8 graphs, one window per model run instead/);
  // never built
  const bare = folder('whisper-tiny.en', ['int8']);
  expect(chooseCpuGraphs(bare, 'fp32-encoder', '', path.join(root, 'nowhere')).warning).toMatch(/built-from\.json does not exist.*float-models\.sh whisper-tiny\.en/);
});

test('the float graphs root is FAIRSCRIBE_FLOAT_MODELS, else the cache default', () => {
  expect(floatModelsRoot({ FAIRSCRIBE_FLOAT_MODELS: '/v/float' })).toBe('/v/float');
  expect(floatModelsRoot({ FAIRSCRIBE_CACHE: '/c' })).toBe(path.join('/c', 'models-float'));
  expect(floatModelsRoot({})).toBe(path.join(os.homedir(), '.cache', 'fairscribe', 'models-float'));
});

test('a CPU worker asking for fp32 runs the checked fp32 graphs, and int8 without a warning when asked', () => {
  const { src, floatRoot, fp32 } = floatPair('whisper-tiny.en');
  expect(chooseCpuGraphs(src, 'fp32', '', floatRoot)).toEqual({ precision: 'fp32', files: fp32 });
  expect(chooseCpuGraphs(src, 'int8', '', floatRoot)).toEqual({ precision: 'int8', files: null });
  // a models volume made from models-float (docs/deploy.md) holds its own fp32 graphs: those, no manifest needed
  const volume = folder('volume', ['int8', 'fp32']);
  expect(chooseCpuGraphs(volume, 'fp32', '', floatRoot)).toEqual({
    precision: 'fp32',
    files: { encoder: path.join(volume, GRAPH_FILES.fp32.encoder), decoder: path.join(volume, GRAPH_FILES.fp32.decoder) },
  });
});

test('missing or stale fp32 graphs fall back to int8 with exactly one warning that says why and how to build them', () => {
  const note = ', one window per model run';
  const expectFallback = (src: string, floatRoot: string, why: RegExp) => {
    const r = chooseCpuGraphs(src, 'fp32', note, floatRoot);
    expect(r).toEqual({ precision: 'int8', files: null, warning: expect.any(String) });
    expect(r.warning).toMatch(why);
    expect(r.warning).toContain(`running its int8 graphs${note} instead`);
    expect(r.warning).toContain(`bash infra/models/float-models.sh ${path.basename(src)}`);
  };
  // never built
  const bare = folder('whisper-base', ['int8']);
  expectFallback(bare, path.join(root, 'nowhere'), /built-from\.json does not exist/);
  // built from other int8 files (a new shipped model version)
  const a = floatPair('whisper-tiny.en');
  fs.writeFileSync(path.join(a.src, GRAPH_FILES.int8.decoder), 'a newer decoder');
  expectFallback(a.src, a.floatRoot, /was built from another .*decoder/);
  // a graph changed or half written since the manifest
  const b = floatPair('whisper-small');
  fs.appendFileSync(path.join(b.dst, GRAPH_FILES.fp32.encoder), 'x');
  expectFallback(b.src, b.floatRoot, /encoder_model\.onnx does not match its manifest/);
  fs.rmSync(path.join(b.dst, GRAPH_FILES.fp32.decoder));
  fs.writeFileSync(path.join(b.dst, GRAPH_FILES.fp32.encoder), `fp32 ${GRAPH_FILES.fp32.encoder}`);
  expectFallback(b.src, b.floatRoot, /decoder_model_merged\.onnx is missing/);
  // unreadable manifest
  fs.writeFileSync(path.join(b.dst, 'built-from.json'), '{');
  expectFallback(b.src, b.floatRoot, /unreadable/);
  expect(floatGraphs(b.src, b.floatRoot)).toHaveProperty('missing');
  // no graphs at all is still an error, not a silent fallback
  expect(() => chooseCpuGraphs(path.join(root, 'empty'), 'fp32', note, b.floatRoot)).toThrow(/lacks/);
});
