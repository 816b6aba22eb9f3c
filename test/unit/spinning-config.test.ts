/**
 * INFERENCE_ALLOW_SPINNING reaches the engine's sessions as configured: off by default (docs/capacity.md round 5),
 * onnxruntime's own default when 'true', and spinning only inside a run ('during-run': session.force_spinning_stop).
 */
import { loadConfig } from '../../common/config';
import { engineLoadOptions } from '../../workers/factory';

test('INFERENCE_ALLOW_SPINNING maps to the engine load options', () => {
  expect(loadConfig({}).inferenceAllowSpinning).toBe(false);
  expect(engineLoadOptions(loadConfig({})).allowSpinning).toBe(false);
  expect(engineLoadOptions(loadConfig({ INFERENCE_ALLOW_SPINNING: 'true' })).allowSpinning).toBeUndefined();
  expect(engineLoadOptions(loadConfig({ INFERENCE_ALLOW_SPINNING: 'during-run' })).allowSpinning).toBe('during-run');
  expect(() => loadConfig({ INFERENCE_ALLOW_SPINNING: 'sometimes' })).toThrow();
});
