/**
 * Blob-store settings (part of the config that common/config.ts parses once): a local directory by
 * default, S3-compatible object storage when API replicas and workers run on different machines.
 */
import { z } from 'zod';

export const blobEnvSchema = z.object({
  /** `local`: BLOB_DIR on this machine; `s3`: a bucket every API replica and worker reaches */
  BLOB_STORE: z.enum(['local', 's3']).default('local'),
  /** e.g. http://127.0.0.1:7070 for versitygw or MinIO; unset or empty (as a ConfigMap may carry it) = AWS's endpoint for S3_REGION */
  S3_ENDPOINT: z.preprocess((v) => (v === '' ? undefined : v), z.string().url().optional()),
  S3_REGION: z.string().default('us-east-1'),
  S3_BUCKET: z.string().optional(),
  /** key prefix inside the bucket, so environments can share one */
  S3_PREFIX: z.string().default(''),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  /** path-style URLs (http://host/bucket/key): what self-hosted servers on an IP address need */
  S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
});

export type BlobStoreConfig =
  | { kind: 'local'; dir: string }
  | {
      kind: 's3';
      /** local staging and cache directory (uploads being received, blobs being decoded) */
      dir: string;
      endpoint: string | null;
      region: string;
      bucket: string;
      prefix: string;
      credentials: { accessKeyId: string; secretAccessKey: string } | null;
      forcePathStyle: boolean;
    };

/**
 * The blob-store part of the config.
 * @throws Error when BLOB_STORE=s3 lacks S3_BUCKET, or only one of the two credential variables is set
 */
export function blobStoreConfig(e: z.infer<typeof blobEnvSchema>, dir: string): BlobStoreConfig {
  if (e.BLOB_STORE === 'local') return { kind: 'local', dir };
  if (!e.S3_BUCKET) throw new Error('invalid configuration:\n  S3_BUCKET: required when BLOB_STORE=s3');
  if (Boolean(e.S3_ACCESS_KEY_ID) !== Boolean(e.S3_SECRET_ACCESS_KEY)) {
    throw new Error('invalid configuration:\n  S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both or neither');
  }
  return {
    kind: 's3',
    dir,
    endpoint: e.S3_ENDPOINT ?? null,
    region: e.S3_REGION,
    bucket: e.S3_BUCKET,
    prefix: e.S3_PREFIX,
    // Neither set: the SDK's default chain (IRSA / instance role in a cluster).
    credentials: e.S3_ACCESS_KEY_ID ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY! } : null,
    forcePathStyle: e.S3_FORCE_PATH_STYLE,
  };
}
