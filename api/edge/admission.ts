/**
 * Edge admission over HTTP (`POST /v1/jobs` with mode=edge, no file): parse the device's capabilities,
 * choose the model it can hold and build the browser's plan; the job's rows, its reservation of 0
 * seconds and one concurrency slot and its workflow (which waits for the browser's result,
 * workflows/edge.ts) are jobs/admission.ts admitEdge's.
 */
import type { Request } from 'express';
import type { EdgeInput } from '../../common/edge';
import type { Principal } from '../../common/keys';
import { admitEdge as admitEdgeJob } from '../../jobs/admission';
import type { ApiDeps } from '../app';
import { admittedOrThrow, ApiError } from '../errors';
import { describeZodError, validate, type CreateJobFields } from '../schemas';
import type { ReceivedUpload } from '../upload';
import { capabilitiesSchema, chooseEdgeModel, modelFileUrl, manifestFor, type Capabilities } from './plan';
import { newEdgeToken } from './token';

/** The 202 body's `edge` plan (api/openapi.ts, docs/api.md `POST /v1/jobs`). */
export interface EdgePlanBody {
  token: string;
  expiresAt: string;
  model: string | null;
  modelFiles: { url: string; sha256: string; bytes: number }[];
  pageUrl: string;
  /** when `model` is null: why the device cannot run edge mode (the job then waits for the audio) */
  reason?: string;
}

/** The origin the caller reached us at (behind nginx: X-Forwarded-Proto/Host, trusted from loopback). */
export function originOf(req: Request): string {
  return `${req.protocol}://${req.get('host')}`;
}

function parseCapabilities(raw: string | undefined): Capabilities | undefined {
  if (raw === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ApiError(400, 'invalid_request', 'capabilities: must be a JSON object such as {"wasmSimd": true, "wasmThreads": true, "deviceMemoryGb": 8}');
  }
  const parsed = validate(capabilitiesSchema, json);
  if (!parsed.success) throw new ApiError(400, 'invalid_request', `capabilities: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/**
 * Admits an edge job (jobs/admission.ts admitEdge: rows, plan, 0-second reservation, workflow) and
 * returns the 202 body with its plan.
 * @throws ApiError 400 (a file was sent, bad capabilities), 422 edge_not_possible (device cannot, no
 *   fallback allowed), and the admission's refusals (429 concurrency_limit, 503 quota_unavailable / unavailable)
 */
export async function admitEdge(
  deps: ApiDeps,
  req: Request,
  me: Principal,
  jobId: string,
  upload: ReceivedUpload,
  fields: CreateJobFields,
) {
  const { config } = deps;
  if (upload.file) throw new ApiError(400, 'invalid_request', 'mode=edge keeps the audio in the browser: send no file');
  const caps = parseCapabilities(fields.capabilities);
  const allowFallback = fields.allowFallback ?? false;
  const choice = chooseEdgeModel(caps, fields, deps.installedModels);
  if (!choice.ok && !allowFallback) {
    throw new ApiError(422, 'edge_not_possible', `edge mode is not possible on this device: ${choice.reason}; retry with allowFallback=true or mode=cloud`);
  }
  const model = choice.ok ? choice.model : null;
  const origin = originOf(req);
  const files = model ? await manifestFor(config.modelsDir).files(model) : [];

  const now = Date.now();
  const deadline = new Date(now + config.edge.deadlineSeconds * 1000);
  const uploadDeadline = allowFallback ? new Date(deadline.getTime() + config.edge.uploadDeadlineSeconds * 1000) : null;
  const edge: EdgeInput = {
    deadline: deadline.toISOString(),
    uploadDeadline: uploadDeadline?.toISOString() ?? null,
    allowFallback,
    model,
  };
  const { token, hash } = newEdgeToken();
  admittedOrThrow(
    await admitEdgeJob(deps, me, { jobId, fields, capabilities: caps, model, reason: choice.ok ? null : choice.reason, edge, tokenHash: hash }),
  );

  const plan: EdgePlanBody = {
    token,
    expiresAt: edge.deadline,
    model,
    modelFiles: model ? files.map((f) => ({ url: modelFileUrl(origin, model, f), sha256: f.sha256, bytes: f.bytes })) : [],
    // The token rides in the fragment: browsers never send it to the server or in a Referer.
    pageUrl: `${origin}/edge#job=${jobId}&token=${token}`,
    ...(choice.ok ? {} : { reason: choice.reason }),
  };
  return {
    id: jobId,
    status: 'queued',
    links: { self: `/v1/jobs/${jobId}`, events: `/v1/jobs/${jobId}/events` },
    edge: plan,
  };
}
