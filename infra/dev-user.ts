/** The local stacks' dev user (`npm start`, `npm run cluster`): a local-development exception (README: tools read the dev key from .data/stack.json). */
import * as fs from 'node:fs';
import type { Pool } from 'pg';
import { createUser, resolveApiKey } from '../common/keys';

/**
 * The premium dev user and its key, made once and kept in `keyFile` (mode 0600); made again when the database
 * no longer knows the saved key (a reset database).
 * @returns the API key
 */
export async function ensureDevUser(pool: Pool, keyFile: string): Promise<string> {
  try {
    const saved = JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { apiKey: string };
    if (await resolveApiKey(pool, saved.apiKey)) return saved.apiKey;
  } catch {
    // no file yet, or a database that was reset: make a new user
  }
  const u = await createUser(pool, 'premium', 'dev');
  fs.writeFileSync(keyFile, JSON.stringify({ userId: u.userId, apiKey: u.apiKey }) + '\n', { mode: 0o600 });
  return u.apiKey;
}
