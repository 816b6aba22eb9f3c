/**
 * docs/api.md, the HTTP API reference, rendered from the OpenAPI document (api/openapi.ts, the one
 * served at /openapi.json and checked against live answers by test/integration/openapi.test.ts), so the
 * reference is never written a second time by hand.
 *
 *   npm run docs:api              writes docs/api.md
 *   npm run docs:api -- --check   exits 1 (and says so) when docs/api.md is not what it would write
 *
 * test/unit/api-docs.test.ts runs the same comparison in CI. The output depends only on the document
 * (object order included), never on the time or the machine, so two runs write the same bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildOpenApi } from '../api/openapi';

type Schema = Record<string, any>;
type Doc = Record<string, any>;

export const API_DOC_PATH = path.join(__dirname, '..', 'docs', 'api.md');

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
/** Enums longer than this are summarised (the languages list); /openapi.json has them whole. */
const MAX_ENUM = 12;
/** Longest pattern written out (a UUID's is 62 characters). */
const MAX_PATTERN = 64;
/** Nesting shown in field tables (`segments[].words[].word` is 2). */
const MAX_FIELD_DEPTH = 3;

/** A Markdown table cell: one line, pipes escaped. */
function cell(s: unknown): string {
  return String(s ?? '')
    .replace(/\r?\n/g, ' ')
    .replace(/\|/g, '\\|')
    .trim();
}

function table(head: string[], rows: unknown[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

const literal = (v: unknown) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v));

/** A schema's type in one short phrase: `string (uuid)`, `"a" | "b"`, `number | null`, `Segment[]`. */
export function typeOf(s: Schema | undefined): string {
  if (!s || typeof s !== 'object' || Object.keys(s).length === 0) return 'any';
  if (s.$ref) return String(s.$ref).split('/').pop()!;
  if ('const' in s) return literal(s.const);
  if (Array.isArray(s.enum)) {
    return s.enum.length > MAX_ENUM
      ? `${s.type ?? 'enum'}: one of ${s.enum.length} values (${s.enum.slice(0, 4).map(literal).join(', ')}, …)`
      : s.enum.map(literal).join(' | ');
  }
  for (const k of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[k])) return [...new Set((s[k] as Schema[]).map(typeOf))].join(' | ');
  }
  if (Array.isArray(s.allOf)) return (s.allOf as Schema[]).map(typeOf).join(' & ');
  if (Array.isArray(s.type)) return s.type.map((t: string) => typeOf({ ...s, type: t })).join(' | ');
  if (s.type === 'array') {
    const item = typeOf(s.items);
    return / [|&] /.test(item) ? `(${item})[]` : `${item}[]`;
  }
  if (s.type === 'object' || s.properties) return 'object';
  const fmt = s.format ?? s.contentMediaType;
  return fmt ? `${s.type ?? 'any'} (${fmt})` : String(s.type ?? 'any');
}

/** Constraints and default of a schema, as a short phrase. */
function constraints(s: Schema): string {
  const parts: string[] = [];
  const ranges: [string, string][] = [
    ['minimum', '≥'],
    ['exclusiveMinimum', '>'],
    ['maximum', '≤'],
    ['exclusiveMaximum', '<'],
  ];
  // zod's int() says "a safe integer" with ±(2^53 − 1): no news to a reader.
  for (const [k, sym] of ranges) if (typeof s[k] === 'number' && Math.abs(s[k]) !== Number.MAX_SAFE_INTEGER) parts.push(`${sym} ${s[k]}`);
  if (typeof s.minLength === 'number') parts.push(`length ≥ ${s.minLength}`);
  if (typeof s.maxLength === 'number') parts.push(`length ≤ ${s.maxLength}`);
  if (typeof s.minItems === 'number') parts.push(`items ≥ ${s.minItems}`);
  if (typeof s.maxItems === 'number') parts.push(`items ≤ ${s.maxItems}`);
  // A format (date-time, uuid) already says what its pattern spells out; a long pattern is left to
  // /openapi.json rather than written into a table cell.
  if (s.pattern && !s.format) parts.push(s.pattern.length <= MAX_PATTERN ? `pattern \`${s.pattern}\`` : 'pattern in /openapi.json');
  if ('default' in s) parts.push(`default ${literal(s.default)}`);
  return parts.join(', ');
}

/** The object schema inside `s`, looking through nullable unions and arrays (`items`). */
function objectIn(s: Schema | undefined): { obj: Schema; suffix: string } | null {
  if (!s) return null;
  if (s.properties) return { obj: s, suffix: '' };
  if (s.type === 'array' || s.items) {
    const inner = objectIn(s.items);
    return inner ? { obj: inner.obj, suffix: `[]${inner.suffix}` } : null;
  }
  const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (Array.isArray(alts)) {
    const objs = alts.map(objectIn).filter((x): x is { obj: Schema; suffix: string } => x !== null);
    if (objs.length === 1) return objs[0];
  }
  return null;
}

/** Rows `[field, type, required, description]` for an object schema's properties, nested ones dotted. */
export function fieldRows(s: Schema, prefix = '', depth = 0): string[][] {
  const rows: string[][] = [];
  const required = new Set<string>(s.required ?? []);
  for (const [name, prop] of Object.entries<Schema>(s.properties ?? {})) {
    const field = `${prefix}${name}`;
    const note = [prop.description, constraints(prop)].filter(Boolean).join('; ');
    rows.push([`\`${field}\``, typeOf(prop), required.has(name) ? 'yes' : '', note]);
    const inner = objectIn(prop);
    if (inner && depth + 1 < MAX_FIELD_DEPTH) rows.push(...fieldRows(inner.obj, `${field}${inner.suffix}.`, depth + 1));
  }
  return rows;
}

function fieldsTable(s: Schema): string {
  const inner = objectIn(s);
  if (!inner || Object.keys(inner.obj.properties ?? {}).length === 0) return `Type: ${typeOf(s)}`;
  const head = inner.suffix ? `A list (\`${inner.suffix}\`) of objects:\n\n` : '';
  return head + table(['Field', 'Type', 'Required', 'Notes'], fieldRows(inner.obj));
}

function securityOf(op: Doc, doc: Doc): string {
  const sec = (op.security ?? doc.security ?? []) as Record<string, unknown>[];
  const names = sec.flatMap((r) => Object.keys(r));
  return names.length ? names.map((n) => `\`${n}\``).join(' or ') : 'none (public)';
}

function anchor(method: string, p: string): string {
  return `${method} ${p}`
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

function renderOperation(method: string, p: string, op: Doc, doc: Doc): string {
  const out: string[] = [`### \`${method.toUpperCase()} ${p}\``, '', op.summary ?? ''];
  if (op.description) out.push('', op.description);
  out.push('', `Auth: ${securityOf(op, doc)}`);

  const params = (op.parameters ?? []) as Schema[];
  if (params.length) {
    out.push(
      '',
      '**Parameters**',
      '',
      table(
        ['Name', 'In', 'Type', 'Required', 'Notes'],
        params.map((q) => [`\`${q.name}\``, q.in, typeOf(q.schema), q.required ? 'yes' : '', [q.description, constraints(q.schema ?? {})].filter(Boolean).join('; ')]),
      ),
    );
  }

  if (op.requestBody) {
    for (const [type, media] of Object.entries<Schema>(op.requestBody.content ?? {})) {
      out.push('', `**Request body** \`${type}\`${op.requestBody.required ? ' (required)' : ''}`, '', fieldsTable(media.schema ?? {}));
    }
  }

  const ws = op['x-websocket-start-message'] as Schema | undefined;
  if (ws) out.push('', '**WebSocket start message** (the first text frame)', '', fieldsTable(ws));

  const responses = Object.entries<Doc>(op.responses ?? {});
  out.push(
    '',
    '**Responses**',
    '',
    table(
      ['Status', 'Meaning', 'Content'],
      responses.map(([status, r]) => [status, r.description, Object.keys(r.content ?? {}).map((t) => `\`${t}\``).join(', ')]),
    ),
  );
  // Field tables for the successful JSON bodies; error bodies share one shape, listed once at the top.
  for (const [status, r] of responses) {
    const jsonBody = r.content?.['application/json']?.schema as Schema | undefined;
    if (!status.startsWith('2') || !jsonBody || !objectIn(jsonBody)) continue;
    out.push('', `**${status} \`application/json\`**`, '', fieldsTable(jsonBody));
  }
  return out.join('\n');
}

/** Every operation in document order: paths as listed, methods in {@link METHODS} order. */
function operations(doc: Doc): { method: string; path: string; op: Doc }[] {
  const ops: { method: string; path: string; op: Doc }[] = [];
  for (const [p, item] of Object.entries<Doc>(doc.paths ?? {})) {
    for (const m of METHODS) if (item[m]) ops.push({ method: m, path: p, op: item[m] });
  }
  return ops;
}

/**
 * Each distinct error body schema (4xx/5xx JSON with an `error` object: ours and OpenAI's; /readyz's
 * 503 is a status report, not an error body) and the tags of the operations that answer with it.
 */
function errorShapes(doc: Doc): { tags: string[]; schema: Schema }[] {
  const seen = new Map<string, { tags: string[]; schema: Schema }>();
  for (const { op } of operations(doc)) {
    for (const [status, r] of Object.entries<Doc>(op.responses ?? {})) {
      const s = r.content?.['application/json']?.schema as Schema | undefined;
      if (!s || !/^[45]/.test(status) || !s.properties?.error) continue;
      const key = JSON.stringify(s);
      const entry = seen.get(key) ?? { tags: [], schema: s };
      for (const t of op.tags ?? ['other']) if (!entry.tags.includes(t)) entry.tags.push(t);
      seen.set(key, entry);
    }
  }
  return [...seen.values()];
}

/**
 * Renders the reference. Pure: the same document gives the same text.
 * @param doc an OpenAPI 3.1 document as api/openapi.ts builds it
 */
export function renderApiReference(doc: Doc = buildOpenApi()): string {
  const ops = operations(doc);
  const tags: string[] = [];
  for (const { op } of ops) for (const t of op.tags ?? ['other']) if (!tags.includes(t)) tags.push(t);

  const out: string[] = [
    `# ${doc.info?.title ?? 'API'} HTTP API reference`,
    '',
    '<!-- Generated by `npm run docs:api` (infra/api-docs.ts) from the OpenAPI document (api/openapi.ts, served at',
    '     /openapi.json). Do not edit by hand: test/unit/api-docs.test.ts fails when this file is stale. -->',
    '',
    `OpenAPI ${doc.openapi}, API version ${doc.info?.version ?? ''}. The machine-readable document is served at`,
    '`/openapi.json` and rendered at `/docs`.',
    '',
    doc.info?.description ?? '',
    '',
    '## Authentication',
    '',
    table(
      ['Scheme', 'Kind', 'What'],
      Object.entries<Doc>(doc.components?.securitySchemes ?? {}).map(([n, s]) => [`\`${n}\``, [s.type, s.scheme].filter(Boolean).join(' '), s.description]),
    ),
    '',
    '## Errors',
    '',
  ];
  for (const { tags, schema } of errorShapes(doc)) {
    out.push(`The error body of the routes tagged ${tags.map((t) => `*${t}*`).join(', ')}:`, '', fieldsTable(schema), '');
  }
  out.push(
    '## Operations',
    '',
    table(
      ['Method', 'Path', 'Summary'],
      ops.map(({ method, path: p, op }) => [method.toUpperCase(), `[\`${p}\`](#${anchor(method, p)})`, op.summary]),
    ),
  );
  for (const tag of tags) {
    out.push('', `## ${tag}`);
    for (const { method, path: p, op } of ops) {
      if ((op.tags ?? ['other']).includes(tag)) out.push('', renderOperation(method, p, op, doc));
    }
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/** The first line where two texts differ (1-based), for a stale-file message. */
export function firstDifference(a: string, b: string): { line: number; have: string; want: string } | null {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return { line: i + 1, have: x[i] ?? '(end of file)', want: y[i] ?? '(end of file)' };
  }
  return null;
}

function main(argv: string[]): number {
  const want = renderApiReference();
  if (argv.includes('--check')) {
    const have = fs.existsSync(API_DOC_PATH) ? fs.readFileSync(API_DOC_PATH, 'utf8') : '';
    const diff = firstDifference(have, want);
    if (!diff) return 0;
    process.stderr.write(
      `docs/api.md is stale (line ${diff.line}: has ${JSON.stringify(diff.have)}, the OpenAPI document gives ${JSON.stringify(diff.want)}); run npm run docs:api\n`,
    );
    return 1;
  }
  fs.writeFileSync(API_DOC_PATH, want);
  process.stderr.write(`wrote ${path.relative(process.cwd(), API_DOC_PATH)} (${want.length} bytes, ${operations(buildOpenApi()).length} operations)\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
