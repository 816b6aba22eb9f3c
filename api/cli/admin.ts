/**
 * Admin CLI (README "Daily use"): `npm run -s admin -- <command> [--json]`. Talks to Postgres
 * directly (DATABASE_URL); prints one JSON object with --json, a readable line otherwise.
 */
import { parseArgs } from 'node:util';
import { helpRequested, parseArgsMessage } from './usage-error';
import type { Pool } from 'pg';
import { loadConfig } from '../../common/config';
import { TIERS, type Tier } from '../../common/constants';
import { openDeps, type Deps } from '../../common/deps';
import { utcDay } from '../../quota/keys';
import { UUID_RE } from '../../common/ids';
import { createApiKey, createUser } from '../../common/keys';
import { rotateWebhookSecret } from '../../webhooks/secrets';

/** The command line is wrong (unknown command or option, a malformed value): exit 2, with the usage. */
class UsageError extends Error {}
/**
 * The command line is right but names nothing that exists (a well-formed user id or key id with no row): exit 1,
 * a runtime failure like every CLI's "not found" (README "Daily use": a usage error, and only that, exits 2).
 */
class NotFoundError extends Error {}


function tierArg(t: string | undefined): Tier {
  if (!t || !(TIERS as readonly string[]).includes(t)) {
    throw new UsageError(`--tier must be one of ${TIERS.join(', ')}${t ? ` (got '${t}')` : ''}`);
  }
  return t as Tier;
}

async function userExists(pool: Pool, userId: string | undefined): Promise<string> {
  if (!userId || !UUID_RE.test(userId)) throw new UsageError('--user must be a user id (uuid)');
  const { rowCount } = await pool.query('SELECT 1 FROM users WHERE id = $1', [userId]);
  if (!rowCount) throw new NotFoundError(`no user ${userId}`);
  return userId;
}

type Handler = (deps: Deps, v: Record<string, string | undefined>) => Promise<Record<string, unknown>>;

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

/** YYYY-MM-DD and a real UTC date (2024-02-30 is not one; Postgres would reject it with an error). */
function isCalendarDay(day: string): boolean {
  if (!DAY_RE.test(day)) return false;
  const d = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === day;
}

const COMMANDS: Record<string, { usage: string; run: Handler }> = {
  'user create': {
    usage: 'user create --tier T [--name N]',
    run: async ({ pool }, v) => {
      const tier = tierArg(v.tier);
      const u = await createUser(pool, tier, v.name ?? `${tier} user`);
      return { userId: u.userId, apiKey: u.apiKey };
    },
  },
  'key create': {
    usage: 'key create --user U',
    run: async ({ pool }, v) => createApiKey(pool, await userExists(pool, v.user)),
  },
  'key revoke': {
    usage: 'key revoke --key K',
    run: async ({ pool }, v) => {
      // Accepts the key id or the whole key (whose second part is the id).
      const keyId = v.key?.startsWith('fsk_') ? v.key.split('_')[1] : v.key;
      if (!keyId) throw new UsageError('--key is required');
      const { rowCount } = await pool.query('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1', [keyId]);
      if (!rowCount) throw new NotFoundError(`no key ${keyId}`);
      return { keyId, revoked: true };
    },
  },
  'tier set': {
    usage: 'tier set --user U --tier T',
    run: async ({ pool }, v) => {
      const tier = tierArg(v.tier);
      const userId = await userExists(pool, v.user);
      await pool.query('UPDATE users SET tier = $2 WHERE id = $1', [userId, tier]);
      return { userId, tier };
    },
  },
  usage: {
    usage: 'usage --user U [--day YYYY-MM-DD]',
    run: async ({ pool, quota }, v) => {
      const userId = await userExists(pool, v.user);
      const day = v.day ?? utcDay();
      if (!isCalendarDay(day)) throw new UsageError(`--day must be a date as YYYY-MM-DD (got '${day}')`);
      return { userId, day, ...(await quota.usage(userId, day)) };
    },
  },
  'webhook-secret rotate': {
    usage: 'webhook-secret rotate --user U',
    // The only time the secret is shown: the user verifies deliveries with it (README "Webhooks").
    run: async ({ pool }, v) => ({ secret: await rotateWebhookSecret(pool, await userExists(pool, v.user)) }),
  },
  'quota rebuild': {
    usage: 'quota rebuild',
    run: async ({ quota }) => quota.rebuild(),
  },
};

function usageText(): string {
  return `usage: npm run -s admin -- <command> [--json]\n${Object.values(COMMANDS).map((c) => `  ${c.usage}`).join('\n')}\n`;
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  if (helpRequested(argv)) {
    process.stdout.write(usageText());
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        tier: { type: 'string' },
        name: { type: 'string' },
        user: { type: 'string' },
        key: { type: 'string' },
        day: { type: 'string' },
      },
    });
  } catch (err) {
    // An unknown option or a missing value is a usage error (exit 2), like an unknown command.
    process.stderr.write(`admin: ${parseArgsMessage(err)}\n${usageText()}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const name = COMMANDS[positionals[0]] ? positionals[0] : positionals.slice(0, 2).join(' ');
  const cmd = COMMANDS[name];
  if (!cmd) {
    // Name what was not understood (nothing to name when no command was given).
    const said = positionals.length ? `admin: unknown command '${positionals.join(' ')}'\n` : '';
    process.stderr.write(said + usageText());
    return 2;
  }
  const config = loadConfig();
  const deps = await openDeps(config);
  try {
    const { json: _json, ...args } = values;
    const out = await cmd.run(deps, args);
    process.stdout.write(values.json ? JSON.stringify(out) + '\n' : Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`admin ${name}: ${err.message}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    if (err instanceof NotFoundError) {
      process.stderr.write(`admin ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await deps.close();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`admin: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
