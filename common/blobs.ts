import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Where audio lives between the API and the workers (the claim-check pattern: Temporal payloads
 * carry only keys). Local directory by default; every key is `<jobId>/<name>`.
 */
export class LocalBlobStore {
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

  exists(key: string): boolean {
    return fs.existsSync(this.pathFor(key));
  }

  /** Removes one job's blobs (idempotent). */
  async deleteJob(jobId: string): Promise<void> {
    await fs.promises.rm(this.pathFor(jobId), { recursive: true, force: true });
  }
}

export const blobKeys = {
  upload: (jobId: string) => `${jobId}/upload`,
  pcm: (jobId: string) => `${jobId}/audio.f32`,
  /** one channel of a multichannel job, 16 kHz float32 like `pcm` */
  channelPcm: (jobId: string, channel: number) => `${jobId}/audio-ch${channel}.f32`,
};
