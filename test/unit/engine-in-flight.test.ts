/** How many chunks of a model an inference worker lets into its engine thread at once (activities/engine-gate.ts). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GRAPH_FILES, type Precision } from '../../engine/files';
import { loadConfig } from '../../common/config';
import { engineInFlightFor, windowsBatched } from '../../workers/factory';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-in-flight-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function folder(name: string, precisions: Precision[]): void {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const p of precisions) for (const f of Object.values(GRAPH_FILES[p])) fs.writeFileSync(path.join(dir, f), '');
}

test('one chunk at a time where windows run one per model run (int8 on the CPU), no limit where they batch', () => {
  folder('int8-model', ['int8', 'fp32']);
  folder('fp32-only', ['fp32']);
  folder('gpu-model', ['int8', 'fp16']);
  const cpu = { executionProvider: 'cpu' as const, modelsDir: root, cpuPrecision: 'int8' as const, engineInFlight: null };
  expect(windowsBatched(cpu, 'int8-model')).toBe(false);
  expect(engineInFlightFor(cpu, 'int8-model')).toBe(1);
  expect(windowsBatched(cpu, 'fp32-only')).toBe(true);
  expect(engineInFlightFor(cpu, 'fp32-only')).toBe(Infinity);
  expect(engineInFlightFor({ ...cpu, executionProvider: 'cuda' }, 'gpu-model')).toBe(Infinity);
  expect(engineInFlightFor({ ...cpu, weightVariant: 'ct2-int8' }, 'int8-model')).toBe(1);
  expect(engineInFlightFor({ ...cpu, weightVariant: 'ct2-fp32' }, 'int8-model')).toBe(Infinity);
  // a folder the loader cannot read at all: no claim of batching (the gate admits one; the load fails anyway)
  expect(engineInFlightFor(cpu, 'missing')).toBe(1);
});

test('INFERENCE_ENGINE_IN_FLIGHT overrides the rule; unset by default', () => {
  folder('int8-model', ['int8']);
  expect(loadConfig({}).engineInFlight).toBeNull();
  const c = loadConfig({ INFERENCE_ENGINE_IN_FLIGHT: '16', WHISPER_MODELS_DIR: root });
  expect(c.engineInFlight).toBe(16);
  expect(engineInFlightFor(c, 'int8-model')).toBe(16);
  expect(() => loadConfig({ INFERENCE_ENGINE_IN_FLIGHT: '0' })).toThrow();
});
