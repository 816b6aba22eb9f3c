import { Redis, type Command } from 'ioredis';

/**
 * A command that gets no reply within this long fails: a Redis that hangs (stopped process, full network
 * buffer) must fail quota checks closed (503) like a Redis that is down, not hold requests open and admit
 * them minutes later for clients that have given up. Every command we send is O(1) or a short script.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000;

/**
 * A Redis connection that fails fast instead of queueing commands while disconnected: quota checks
 * must fail closed at once (503), not hang until Redis returns. It reconnects in the background.
 *
 * The command timeout is ours, not ioredis's `commandTimeout`: that one is a plain timer, and when this
 * process's event loop is held up past it (50 uploads probed at once on 2 busy cores) the timer phase
 * runs before the poll phase that would read Redis's reply, already waiting in the socket, so a Redis
 * that answered in a millisecond read as down (refused quota_unavailable under load). Ours lets one poll
 * phase run (setImmediate) after the timer before it gives up, so only a reply that has really not
 * arrived fails the command (test/integration/quota-service.test.ts shows both).
 */
export function createRedis(url: string): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: false,
  });
  redis.on('error', () => undefined); // surfaced per command; reconnection is automatic
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Command, stream?: Parameters<Redis['sendCommand']>[1]) => {
    const reply = send(command, stream);
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          // As ioredis's own timeout (Command.setTimeout), one poll phase later.
          if (!command.isResolved) command.reject(new Error('Command timed out'));
        }),
      REDIS_COMMAND_TIMEOUT_MS,
    );
    const clear = () => clearTimeout(timer);
    command.promise.then(clear, clear);
    return reply;
  }) as typeof redis.sendCommand;
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
