import { Redis } from 'ioredis';

/**
 * A command that gets no reply within this long fails: a Redis that hangs (stopped process, full network
 * buffer) must fail quota checks closed (503) like a Redis that is down, not hold requests open and admit
 * them minutes later for clients that have given up. Every command we send is O(1) or a short script.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000;

/**
 * A Redis connection that fails fast instead of queueing commands while disconnected: quota checks
 * must fail closed at once (503), not hang until Redis returns. It reconnects in the background.
 */
export function createRedis(url: string): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  });
  redis.on('error', () => undefined); // surfaced per command; reconnection is automatic
  return redis;
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function redisReady(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis not ready after ${timeoutMs} ms`)), timeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
