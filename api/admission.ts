/**
 * Upload admission over HTTP, shared by `/v1/jobs`, re-transcription and the OpenAI-compatible routes:
 * the jobs module decides (jobs/admission.ts admitUpload); a refusal answers as our error
 * (api/errors.ts refusalError: status by code, Retry-After, OpenAI's `param` from its field).
 */
import { admitUpload as admit, type UploadRequest } from '../jobs/admission';
import type { Principal } from '../common/keys';
import type { ApiDeps } from './app';
import { admittedOrThrow } from './errors';
import type { CreateJobFields } from './schemas';
import type { ReceivedUpload } from './upload';
import { logJob } from './request-log';

export type AdmitOptions = Pick<UploadRequest, 'syncMaxAudioSeconds' | 'requireCapacity' | 'version'>;

/**
 * Admits one uploaded file as job `jobId` (its upload already at blobKeys.upload(jobId)).
 * @throws ApiError for every refusal (4xx) or unavailability (503); the caller deletes the blobs
 */
export async function admitUpload(
  deps: ApiDeps,
  me: Principal,
  jobId: string,
  upload: ReceivedUpload,
  fields: CreateJobFields,
  opts: AdmitOptions = {},
): Promise<void> {
  // A version's request is about its job (the path's id); the version's own row id goes in the admitted line.
  logJob(opts.version?.parentJobId ?? jobId, me.userId);
  admittedOrThrow(await admit(deps, me, { jobId, file: upload.file, fields, ...opts }));
}
