/**
 * The stop path of the foreground stacks, `npm start` (infra/stack.ts) and `npm run cluster` (infra/cluster.ts):
 * both run until Ctrl-C, advertise themselves in .data/stack.json, and must not outlive whatever started them.
 */
import * as fs from 'node:fs';
import { STACK_FILE } from '../api/cli/stack-file';
import type { Logger } from '../common/log';

const PARENT_CHECK_MS = 1_000;

/**
 * Stops the stack once, on SIGINT or SIGTERM, or when the process that started this one goes away without a
 * signal reaching us (an intermediate shell killed): removes .data/stack.json first (so no tool connects to a stack
 * that is going), awaits `teardown`, then exits with the code.
 * @param teardown stops the stack's processes; an error in it is logged, the exit still happens
 * @param stackFile the file to remove (tests name their own)
 * @returns stop(code) for start-up failures and dead workers; calls after the first do nothing
 */
export function stopOnSignals(log: Logger, teardown: () => Promise<void>, stackFile = STACK_FILE): (code: number) => Promise<void> {
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    fs.rmSync(stackFile, { force: true });
    log.info('stopping');
    try {
      await teardown();
      log.info('stopped');
    } catch (err) {
      log.error('stop failed', { err });
    }
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop(0);
  }, PARENT_CHECK_MS).unref();
  return stop;
}
