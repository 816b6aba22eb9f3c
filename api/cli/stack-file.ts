/** `.data/stack.json`: written by `npm start` when every service is ready (README "Daily use", mode 0600). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../common/config';

export interface StackFile {
  apiUrl: string;
  temporalAddress: string;
  uiUrl: string;
  devApiKey: string;
}

export const STACK_FILE = path.join(REPO_ROOT, '.data', 'stack.json');

export function readStackFile(): StackFile | null {
  try {
    return JSON.parse(fs.readFileSync(STACK_FILE, 'utf8')) as StackFile;
  } catch {
    return null;
  }
}

/** Writes the file atomically with mode 0600 (it holds the dev key). */
export function writeStackFile(s: StackFile): void {
  fs.mkdirSync(path.dirname(STACK_FILE), { recursive: true });
  const tmp = `${STACK_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, STACK_FILE);
}

/**
 * Where the tools send requests and with which key: FAIRSCRIBE_API_URL / FAIRSCRIBE_API_KEY, else the
 * running stack's file. Never from argv (keys in argv end up in shell history and `ps`).
 * @throws Error telling the user to start the stack or set the variables
 */
export function resolveApiTarget(): { apiUrl: string; apiKey: string; uiUrl: string | null } {
  const stack = readStackFile();
  const apiUrl = process.env.FAIRSCRIBE_API_URL ?? stack?.apiUrl;
  const apiKey = process.env.FAIRSCRIBE_API_KEY ?? stack?.devApiKey;
  if (!apiUrl || !apiKey) {
    throw new Error('no API to talk to: run `npm start` (writes .data/stack.json) or set FAIRSCRIBE_API_URL and FAIRSCRIBE_API_KEY');
  }
  return { apiUrl: apiBase(apiUrl), apiKey, uiUrl: stack?.uiUrl ?? process.env.FAIRSCRIBE_UI_URL ?? null };
}

/**
 * The API's address as the tools join paths to it: no trailing slash, and no trailing `/v1` (every route is under
 * /v1, so that is the OpenAI client's baseURL given here, which made the tools call /v1/v1/jobs).
 * @throws Error naming FAIRSCRIBE_API_URL when it is not an http(s) URL (fetch would say "Failed to parse URL")
 */
function apiBase(apiUrl: string): string {
  let url: URL | null = null;
  try {
    url = new URL(apiUrl);
  } catch {
    // not a URL at all
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new Error(`FAIRSCRIBE_API_URL must be the API's http:// or https:// address, such as http://127.0.0.1:8080 (got '${apiUrl}')`);
  }
  return apiUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
}
