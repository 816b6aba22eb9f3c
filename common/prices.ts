/**
 * The tier price table (config/prices.json): what a tier pays per billed audio minute. Revenue metrics
 * and the capacity model read it; nothing is charged from it (billing is outside fairscribe).
 */
import { z } from 'zod';
import raw from '../config/prices.json';
import { BACKEND_TABLE } from './backends';
import { BACKENDS, TIERS, type Backend, type Tier } from './constants';

const schema = z.object({
  currency: z.literal('USD'),
  pricePerAudioMinute: z.object(Object.fromEntries(TIERS.map((t) => [t, z.number().min(0)])) as Record<Tier, z.ZodNumber>),
});

/** USD per billed audio minute, by tier (validated at import: a bad table stops the process at start-up). */
export const TIER_PRICE_PER_MINUTE: Record<Tier, number> = schema.parse(raw).pricePerAudioMinute;

/** USD per processed audio minute, by backend (config/backends.json `costPerMinute`). */
export const BACKEND_COST_PER_MINUTE: Record<Backend, number> = Object.fromEntries(
  BACKENDS.map((b) => [b, BACKEND_TABLE.backends[b].costPerMinute]),
) as Record<Backend, number>;

export const GPU_BACKENDS: readonly Backend[] = BACKENDS.filter((b) => b.startsWith('gpu-'));

/**
 * Revenue per GPU-hour of inference: what the tiers paid for audio transcribed on GPU backends,
 * divided by the GPU time spent on it.
 * @param rows per tier: billed audio seconds on GPU backends and the inference milliseconds they took
 * @returns USD per GPU-hour; 0 when no GPU time was spent (no GPU workers, or an idle window)
 */
export function revenuePerGpuHour(rows: { tier: Tier; billedSeconds: number; inferenceMs: number }[]): number {
  const revenue = rows.reduce((sum, r) => sum + (r.billedSeconds / 60) * TIER_PRICE_PER_MINUTE[r.tier], 0);
  const gpuHours = rows.reduce((sum, r) => sum + r.inferenceMs, 0) / 3_600_000;
  return gpuHours > 0 ? revenue / gpuHours : 0;
}
