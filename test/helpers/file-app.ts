/**
 * The per-file lifecycle most integration tests share: one test app (harness.ts startTestApp) and one scratch
 * directory, made in beforeAll and stopped / removed in afterAll, also when a start failed half-way.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestApp, type TestApp, type TestAppOptions } from './harness';

/** What fileApp hands a test file; both are set once the file's beforeAll has run. */
export interface FileApp {
  /** The file's app (an API, its workers and a fresh database on the run's services). */
  readonly app: TestApp;
  /** A scratch directory of the file's own under the OS temp dir, removed after the file. */
  readonly tmp: string;
}

/**
 * Registers the beforeAll / afterAll that start a test app and make a scratch directory for this test file.
 * Call at the top level of the file, before its own beforeAll hooks (Jest runs them in order, so those can use
 * both).
 * @param tmpPrefix the scratch directory's name prefix, e.g. `fs-languages-`
 * @param env, opts as startTestApp takes them
 */
export function fileApp(tmpPrefix: string, env: Record<string, string> = {}, opts: TestAppOptions = {}): FileApp {
  const state: { app?: TestApp; tmp?: string } = {};
  beforeAll(async () => {
    state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
    state.app = await startTestApp(env, opts);
  }, 120_000);
  afterAll(async () => {
    await state.app?.stop();
    if (state.tmp) fs.rmSync(state.tmp, { recursive: true, force: true });
  }, 60_000);
  return {
    get app(): TestApp {
      if (!state.app) throw new Error('fileApp: the app is not started (used outside a test, or beforeAll failed)');
      return state.app;
    },
    get tmp(): string {
      if (!state.tmp) throw new Error('fileApp: no scratch directory yet (used outside a test)');
      return state.tmp;
    },
  };
}
