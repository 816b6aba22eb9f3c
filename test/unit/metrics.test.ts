import { parseNvidiaSmi, sampleCpuBusy } from '../../common/metrics-system';
import { revenuePerGpuHour, TIER_PRICE_PER_MINUTE } from '../../common/prices';
import { jobEnded, metricsRegistry, observeChunkDone, observeVad } from '../../common/metrics';

test('nvidia-smi CSV: one entry per GPU, utilisation as a fraction; junk lines ignored', () => {
  expect(parseNvidiaSmi('0, 87\n1, 3\n')).toEqual([
    { index: '0', utilisation: 0.87 },
    { index: '1', utilisation: 0.03 },
  ]);
  expect(parseNvidiaSmi('')).toEqual([]);
  expect(parseNvidiaSmi('0, [N/A]\n')).toEqual([]);
});

test('CPU busy fraction stays within 0..1', () => {
  sampleCpuBusy();
  for (let i = 0; i < 1e6; i++); // some work between samples
  const b = sampleCpuBusy();
  expect(b).toBeGreaterThanOrEqual(0);
  expect(b).toBeLessThanOrEqual(1);
});

test('revenue per GPU hour: tier prices of billed minutes over GPU inference hours; 0 without GPU time', () => {
  // 60 billed minutes of premium and 60 of standard, in half a GPU-hour of inference.
  const r = revenuePerGpuHour([
    { tier: 'premium', billedSeconds: 3600, inferenceMs: 900_000 },
    { tier: 'standard', billedSeconds: 3600, inferenceMs: 900_000 },
  ]);
  expect(r).toBeCloseTo((60 * TIER_PRICE_PER_MINUTE.premium + 60 * TIER_PRICE_PER_MINUTE.standard) / 0.5, 9);
  expect(revenuePerGpuHour([])).toBe(0);
  expect(revenuePerGpuHour([{ tier: 'free', billedSeconds: 60, inferenceMs: 0 }])).toBe(0);
});

test('a completed job adds billed seconds, cost and revenue; a failed one only its count', async () => {
  jobEnded({ tier: 'standard', status: 'completed', backend: 'gpu-spot', billedSeconds: 120 });
  jobEnded({ tier: 'standard', status: 'failed', backend: 'gpu-spot', billedSeconds: 0 });
  const text = await metricsRegistry.metrics();
  expect(text).toContain('fairscribe_jobs_total{tier="standard",status="completed"} 1');
  expect(text).toContain('fairscribe_jobs_total{tier="standard",status="failed"} 1');
  expect(text).toContain('fairscribe_billed_seconds_total{tier="standard",backend="gpu-spot"} 120');
  expect(text).toContain('fairscribe_cost_usd_total{tier="standard",backend="gpu-spot"} 0.04'); // 2 min × 0.02
  expect(text).toContain(`fairscribe_revenue_usd_total{tier="standard"} ${2 * TIER_PRICE_PER_MINUTE.standard}`);
});

test('a chunk: RTF, batch size and fill ratio per window, no-speech segments above 0.6', async () => {
  observeChunkDone({
    queue: 'transcribe-cpu',
    model: 'm',
    audioSeconds: 10,
    inferenceMs: 500,
    batchSizes: [4, 2],
    maxBatch: 8,
    segments: [{ avgLogprob: -0.3, noSpeechProb: 0.1 }, { avgLogprob: -1.2, noSpeechProb: 0.9 }],
  });
  const text = await metricsRegistry.metrics();
  expect(text).toContain('fairscribe_inference_rtf_sum{queue="transcribe-cpu",model="m"} 0.05');
  expect(text).toContain('fairscribe_batch_size_count{queue="transcribe-cpu",model="m"} 2');
  expect(text).toContain('fairscribe_batch_fill_ratio_sum{queue="transcribe-cpu",model="m"} 0.75');
  expect(text).toContain('fairscribe_segments_total{model="m"} 2');
  expect(text).toContain('fairscribe_no_speech_segments_total{model="m"} 1');
});

test('speech detection: its time per job and the share of audio kept as speech', async () => {
  observeVad({ seconds: 0.4, audioSeconds: 100, speechSeconds: 25 });
  observeVad({ seconds: 0.1, audioSeconds: 0, speechSeconds: 0 });
  const text = await metricsRegistry.metrics();
  expect(text).toContain('fairscribe_vad_seconds_count 2');
  expect(text).toContain('fairscribe_vad_seconds_sum 0.5');
  expect(text).toContain('fairscribe_speech_ratio_count 1');
  expect(text).toContain('fairscribe_speech_ratio_sum 0.25');
});
