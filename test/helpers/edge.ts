/** Privacy-mode helpers for tests: create an edge job (no file) and post a result with its token. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The reference transcript of jfk.* (the test audio read from ../shared/audio at run time). */
export const JFK_REFERENCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

export interface EdgePlan {
  token: string;
  expiresAt: string;
  model: string | null;
  modelFiles: { url: string; sha256: string; bytes: number }[];
  pageUrl: string;
  reason?: string;
}

/** POST /v1/jobs with mode=edge and the given fields (no file); returns the raw response. */
export function postEdgeJob(url: string, apiKey: string, fields: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.append('mode', 'edge');
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return fetch(`${url}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${apiKey}` } });
}

/** Creates an edge job and returns its id and plan; throws unless 202. */
export async function createEdgeJob(url: string, apiKey: string, fields: Record<string, string> = {}): Promise<{ id: string; edge: EdgePlan }> {
  const res = await postEdgeJob(url, apiKey, fields);
  const body = (await res.json()) as { id: string; edge: EdgePlan };
  if (res.status !== 202) throw new Error(`edge job refused: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** POST /v1/jobs/:id/edge-result with a bearer token and a JSON body (string bodies are sent as is). */
export function postEdgeResult(url: string, jobId: string, token: string, body: unknown): Promise<Response> {
  return fetch(`${url}/v1/jobs/${jobId}/edge-result`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** PUT /v1/jobs/:id/audio with a file as multipart. */
export function putAudio(url: string, apiKey: string, jobId: string, file: string): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  return fetch(`${url}/v1/jobs/${jobId}/audio`, { method: 'PUT', body: form, headers: { authorization: `Bearer ${apiKey}` } });
}

/** GET a job as its owner. */
export async function getJob(url: string, apiKey: string, jobId: string): Promise<Record<string, any>> {
  const res = await fetch(`${url}/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${apiKey}` } });
  return (await res.json()) as Record<string, any>;
}

/** Polls until `pred(job)` holds. */
export async function waitUntil(url: string, apiKey: string, jobId: string, pred: (job: Record<string, any>) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(url, apiKey, jobId);
    if (pred(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} never reached the expected state: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
