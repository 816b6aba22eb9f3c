import * as fs from 'node:fs';
import type { Services } from '../../infra/services';

export default async function globalTeardown(): Promise<void> {
  const services = (globalThis as Record<string, unknown>).__FAIRSCRIBE_SERVICES__ as Services | undefined;
  await services?.stop();
  if (services) fs.rmSync(services.root, { recursive: true, force: true });
}
