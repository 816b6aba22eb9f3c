/**
 * A deadline on a promise the caller cannot cancel (a gRPC call to a server that stopped answering, a Postgres
 * query behind a patient pool): its outcome, or the fallback's once the deadline passes. Node-only (timers).
 */

/**
 * `work`'s outcome when it settles within `ms`, else `late()`'s (a value, or what it throws); the timer is cleared
 * either way, and `work` keeps running unobserved.
 * @param ms milliseconds
 * @param late what the deadline answers: return a fallback value, or throw a typed error
 */
export async function settleWithin<T>(work: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
