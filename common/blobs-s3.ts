/**
 * Blobs in S3-compatible object storage (AWS S3, versitygw, MinIO, Ceph RGW…) through the official
 * client (@aws-sdk/client-s3). Objects are `<S3_PREFIX><jobId>/<name>`; each carries the SHA-256 of its
 * content in user metadata (`x-amz-meta-sha256`), checked on every full read. Ranged reads (one chunk
 * of the normalised audio) are checked by the caller against the chunk's own hash (audio/pcm-blob.ts).
 * A local directory stages uploads being received and holds fetched copies until `dropLocal`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { BlobStoreConfig } from './blob-config';
import { BlobIntegrityError, BlobNotFoundError, LocalBlobStore, checkBlobKey, sha256File, type BlobStore } from './blobs';

type S3Config = Extract<BlobStoreConfig, { kind: 's3' }>;

function isNotFound(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}

export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  private readonly local: LocalBlobStore;

  constructor(private readonly config: S3Config) {
    this.client = new S3Client({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      forcePathStyle: config.forcePathStyle,
      ...(config.credentials ? { credentials: config.credentials } : {}),
      // The SDK's default CRC32 trailers are not understood by every S3-compatible server; integrity is
      // ours (SHA-256 in metadata, checked on read).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.local = new LocalBlobStore(config.dir);
  }

  private objectKey(key: string): string {
    checkBlobKey(key);
    return `${this.config.prefix}${key}`;
  }

  prepare(key: string): string {
    checkBlobKey(key);
    return this.local.prepare(key);
  }

  /** Uploads the staged file with its SHA-256 (one PUT: S3 takes up to 5 GB, above the largest tier's audio). */
  async commit(key: string): Promise<void> {
    const file = this.local.pathFor(key);
    const { size } = await fs.promises.stat(file).catch(() => {
      throw new BlobNotFoundError(key);
    });
    const sha256 = await sha256File(file);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: this.objectKey(key),
        Body: fs.createReadStream(file),
        ContentLength: size,
        ContentType: 'application/octet-stream',
        Metadata: { sha256 },
      }),
    );
    await fs.promises.rm(file, { force: true });
  }

  /** The whole object; a missing key is BlobNotFoundError. */
  private async getObject(key: string) {
    try {
      return await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  /** Downloads into the local directory while hashing; a mismatch removes the copy and throws. */
  async fetch(key: string): Promise<string> {
    const res = await this.getObject(key);
    const expected = res.Metadata?.sha256;
    const file = this.local.prepare(key);
    const tmp = `${file}.part-${crypto.randomBytes(4).toString('hex')}`;
    const hash = crypto.createHash('sha256');
    const hasher = new Transform({
      transform(chunk, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(res.Body as Readable, hasher, fs.createWriteStream(tmp));
      const actual = hash.digest('hex');
      if (!expected) throw new BlobIntegrityError(key, '(none recorded)', actual);
      if (actual !== expected) throw new BlobIntegrityError(key, expected, actual);
      await fs.promises.rename(tmp, file);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
    return file;
  }

  async read(key: string): Promise<Buffer> {
    const res = await this.getObject(key);
    const bytes = Buffer.from(await res.Body!.transformToByteArray());
    const actual = crypto.createHash('sha256').update(bytes).digest('hex');
    const expected = res.Metadata?.sha256;
    if (actual !== expected) throw new BlobIntegrityError(key, expected ?? '(none recorded)', actual);
    return bytes;
  }

  async readRange(key: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key), Range: `bytes=${start}-${end - 1}` }),
      );
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async dropLocal(jobId: string): Promise<void> {
    await this.local.deleteJob(jobId);
  }

  async deleteJob(jobId: string): Promise<void> {
    await this.dropLocal(jobId);
    const prefix = this.objectKey(jobId) + '/';
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      // A job has two or three objects: single deletes keep to the most widely implemented call.
      for (const o of page.Contents ?? []) {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: o.Key! }));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}
