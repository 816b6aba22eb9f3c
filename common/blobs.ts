import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlobStoreConfig } from './blob-config';

/**
 * Where audio lives between the API and the workers (the claim-check pattern: Temporal payloads
 * carry only keys). Every key is `<jobId>/<name>`. Writers fill a local staging file (`prepare`) and
 * publish it (`commit`); readers get a verified local copy (`fetch`) or a byte range (`readRange`).
 * Implementations: a local directory (one machine) and S3-compatible object storage (common/blobs-s3.ts).
 */
export interface BlobStore {
  readonly kind: 'local' | 's3';
  /** Local path to write the blob `key` to before `commit` (its folder exists). */
  prepare(key: string): string;
  /** Publishes the file written at `prepare(key)`; a remote store uploads it and removes the local file. */
  commit(key: string): Promise<void>;
  /**
   * A local file with the blob's content, verified against the hash recorded at commit.
   * @throws BlobNotFoundError, BlobIntegrityError
   */
  fetch(key: string): Promise<string>;
  /** A whole (small) blob in memory, verified like `fetch`. @throws BlobNotFoundError, BlobIntegrityError */
  read(key: string): Promise<Buffer>;
  /** Bytes [start, end) of a blob (fewer at its end). @throws BlobNotFoundError */
  readRange(key: string, start: number, end: number): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  /** Drops this machine's local copies of a job's blobs (a remote store keeps the objects). Idempotent. */
  dropLocal(jobId: string): Promise<void>;
  /** Removes one job's blobs everywhere (idempotent). */
  deleteJob(jobId: string): Promise<void>;
}

export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`blob ${key} does not exist`);
    this.name = 'BlobNotFoundError';
  }
}

/** The content read does not match the SHA-256 recorded when it was written. */
export class BlobIntegrityError extends Error {
  constructor(readonly key: string, expected: string, actual: string) {
    super(`blob ${key} is corrupt: sha256 ${actual}, expected ${expected}`);
    this.name = 'BlobIntegrityError';
  }
}

/** Hex SHA-256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Rejects keys that are not `<segment>/<segment>…` of safe characters (no `..`, no absolute paths). */
export function checkBlobKey(key: string): void {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(key) || key.split('/').some((s) => s === '.' || s === '..')) {
    throw new Error(`invalid blob key ${key}`);
  }
}

/** Blobs in a directory of this machine: what `prepare` writes is the blob, so `commit` has nothing to do. */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;

  constructor(readonly root: string) {
    fs.mkdirSync(root, { recursive: true });
  }

  /** Absolute path of a key; rejects keys that would escape the root. */
  pathFor(key: string): string {
    const p = path.resolve(this.root, key);
    if (!p.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`invalid blob key ${key}`);
    return p;
  }

  /** Ensures the key's folder exists and returns its path for writing. */
  prepare(key: string): string {
    const p = this.pathFor(key);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    return p;
  }

  async commit(key: string): Promise<void> {
    if (!fs.existsSync(this.pathFor(key))) throw new BlobNotFoundError(key);
  }

  async fetch(key: string): Promise<string> {
    const p = this.pathFor(key);
    if (!fs.existsSync(p)) throw new BlobNotFoundError(key);
    return p;
  }

  async read(key: string): Promise<Buffer> {
    try {
      return await fs.promises.readFile(this.pathFor(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async readRange(key: string, start: number, end: number): Promise<Buffer> {
    const out = Buffer.alloc(Math.max(0, end - start));
    let fd: fs.promises.FileHandle;
    try {
      fd = await fs.promises.open(this.pathFor(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(key);
      throw err;
    }
    try {
      const { bytesRead } = await fd.read(out, 0, out.length, start);
      return bytesRead === out.length ? out : out.subarray(0, bytesRead);
    } finally {
      await fd.close();
    }
  }

  async exists(key: string): Promise<boolean> {
    return fs.existsSync(this.pathFor(key));
  }

  async dropLocal(): Promise<void> {
    // The local directory is the store itself.
  }

  async deleteJob(jobId: string): Promise<void> {
    await fs.promises.rm(this.pathFor(jobId), { recursive: true, force: true });
  }
}

/** The store the config names (BLOB_STORE). */
export function createBlobStore(config: BlobStoreConfig): BlobStore {
  if (config.kind === 'local') return new LocalBlobStore(config.dir);
  // Required lazily: a local deployment never loads the AWS SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { S3BlobStore } = require('./blobs-s3') as typeof import('./blobs-s3');
  return new S3BlobStore(config);
}

export const blobKeys = {
  upload: (jobId: string) => `${jobId}/upload`,
  pcm: (jobId: string) => `${jobId}/audio.f32`,
  /** one channel of a multichannel job, 16 kHz float32 like `pcm` */
  channelPcm: (jobId: string, channel: number) => `${jobId}/audio-ch${channel}.f32`,
  /**
   * one chunk's audio, published before `pcm` is: a chunk announced while a remote store's job is still prepared
   * (audio/pcm-blob.ts writeEarlyChunk)
   */
  earlyChunk: (jobId: string, index: number) => `${jobId}/chunk-${index}.f32`,
};
