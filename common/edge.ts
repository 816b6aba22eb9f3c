/**
 * Privacy mode (edge) names and the types that cross the workflow boundary: deadlines, the plan's
 * model, and the fallback admission's outcome. Ids and numbers only; workflow-safe (no Node APIs).
 */
import type { Backend, ModelTier } from './constants';
import type { Refusal } from '../jobs/refusal';

/** The edge part of a job's workflow input. */
export interface EdgeInput {
  /** ISO 8601: the browser's result must arrive by then (the edge token expires with it) */
  deadline: string;
  /** ISO 8601: with fallback, the audio upload must arrive by then; null without fallback */
  uploadDeadline: string | null;
  allowFallback: boolean;
  /** the model the browser runs; null when the device cannot run edge mode (straight to fallback) */
  model: string | null;
}

/**
 * What the workflow's fallback admission answers the API's `PUT /v1/jobs/:id/audio`: the route, or a
 * refusal the API maps to its HTTP error (api/errors.ts refusalError).
 */
export type EdgeAudioOutcome =
  | { ok: true; backend: Backend; model: string; modelTier: ModelTier }
  | { ok: false; refusal: Refusal };

/** Workflow update names (API ↔ workflow). */
export const EDGE_RESULT_UPDATE = 'edgeResult';
export const EDGE_AUDIO_UPDATE = 'edgeAudio';

/** The job's `edge.billing` sentence for a result produced in the browser. */
export const EDGE_BILLING_NOTE = 'transcribed in the browser: 0 seconds billed (the job held one concurrency slot while it waited)';
