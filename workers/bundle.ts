/**
 * The workflow bundle, built once and cached by the hash of the code it contains: webpack takes
 * several seconds on two cores, and every worker start and test run would otherwise pay it again.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { REPO_ROOT } from '../common/config';

export const WORKFLOWS_PATH = path.join(REPO_ROOT, 'workflows', 'index.ts');
/** Job ids on every workflow log line and activity header (see that file). */
const WORKFLOW_INTERCEPTORS_PATH = path.join(REPO_ROOT, 'workflows', 'log-interceptors.ts');
/** Folders whose files can end up in the workflow bundle. */
const BUNDLED_DIRS = ['workflows', 'common', 'audio'];

function sourceHash(): string {
  const h = crypto.createHash('sha256');
  for (const dir of BUNDLED_DIRS) {
    const abs = path.join(REPO_ROOT, dir);
    for (const f of fs.readdirSync(abs).sort()) {
      if (f.endsWith('.ts') || f.endsWith('.json')) h.update(f).update(fs.readFileSync(path.join(abs, f)));
    }
  }
  h.update(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json')));
  return h.digest('hex').slice(0, 16);
}

/**
 * Returns `{ code }` for `Worker.create({ workflowBundle })`, from `cacheDir` when the sources have
 * not changed since it was built.
 */
export async function workflowBundle(cacheDir = path.join(REPO_ROOT, '.data', 'cache')): Promise<{ code: string }> {
  const file = path.join(cacheDir, `workflow-bundle-${sourceHash()}.js`);
  if (fs.existsSync(file)) return { code: fs.readFileSync(file, 'utf8') };
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_PATH],
    logger: quietLogger,
  });
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, file);
  return { code };
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => console.error(m), log: noop };
