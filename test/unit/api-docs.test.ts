/**
 * docs/api.md is generated from the OpenAPI document (infra/api-docs.ts, `npm run docs:api`): this
 * fails when the committed file is not what the generator writes now (a route, field or status added
 * without regenerating), and checks that the rendering shows what a reader needs.
 */
import * as fs from 'node:fs';
import { buildOpenApi } from '../../api/openapi';
import { API_DOC_PATH, fieldRows, firstDifference, renderApiReference, typeOf } from '../../infra/api-docs';

test('docs/api.md is current with the OpenAPI document (else: npm run docs:api)', () => {
  const want = renderApiReference(buildOpenApi());
  const have = fs.existsSync(API_DOC_PATH) ? fs.readFileSync(API_DOC_PATH, 'utf8') : '';
  const diff = firstDifference(have, want);
  if (diff) {
    throw new Error(`docs/api.md is stale at line ${diff.line}:\n  file:      ${diff.have}\n  generated: ${diff.want}\nRun: npm run docs:api`);
  }
});

test('rendering is deterministic and lists every operation under its tag', () => {
  const doc = buildOpenApi() as any;
  const md = renderApiReference(doc);
  expect(renderApiReference(buildOpenApi())).toBe(md);
  for (const [p, item] of Object.entries<any>(doc.paths)) {
    for (const m of Object.keys(item)) expect(md).toContain(`### \`${m.toUpperCase()} ${p}\``);
  }
  for (const tag of new Set(Object.values<any>(doc.paths).flatMap((i) => Object.values<any>(i).flatMap((op) => op.tags ?? [])))) {
    expect(md).toContain(`\n## ${tag}\n`);
  }
});

test('a field added to a response schema changes the reference (so the check above catches it)', () => {
  const doc = buildOpenApi() as any;
  const before = renderApiReference(doc);
  const job = doc.paths['/v1/jobs/{id}'].get.responses['200'].content['application/json'].schema;
  job.properties.brandNewField = { type: 'integer', minimum: 0, description: 'added without regenerating' };
  const after = renderApiReference(doc);
  expect(after).not.toBe(before);
  expect(after).toContain('| `brandNewField` | integer |  | added without regenerating; ≥ 0 |');
  expect(firstDifference(before, after)).not.toBeNull();
});

test('the job and its nested segments are documented field by field, with requiredness and constraints', () => {
  const md = renderApiReference();
  expect(md).toMatch(/\| `status` \| "queued" \\\| "running" \\\| "completed"/);
  expect(md).not.toContain('9007199254740991');
  expect(md).toContain('`segments[].start`');
  expect(md).toMatch(/\| `Idempotency-Key` \| header \| string \|  \| .*length ≤ 255/);
  expect(md).toContain('**Request body** `multipart/form-data` (required)');
  expect(md).toMatch(/\| `file` \| string \(binary\) \| yes \|/);
});

test('typeOf and fieldRows', () => {
  expect(typeOf({ type: 'string', format: 'uuid' })).toBe('string (uuid)');
  expect(typeOf({ anyOf: [{ type: 'number' }, { type: 'null' }] })).toBe('number | null');
  expect(typeOf({ type: ['string', 'null'] })).toBe('string | null');
  expect(typeOf({ type: 'array', items: { type: 'string', enum: ['a', 'b'] } })).toBe('("a" | "b")[]');
  expect(typeOf({ const: 'x' })).toBe('"x"');
  expect(typeOf({ type: 'string', enum: Array.from({ length: 20 }, (_, i) => `l${i}`) })).toBe('string: one of 20 values ("l0", "l1", "l2", "l3", …)');
  expect(typeOf({})).toBe('any');
  expect(
    fieldRows({
      type: 'object',
      required: ['a'],
      properties: { a: { type: 'integer', default: 1 }, b: { anyOf: [{ type: 'object', properties: { c: { type: 'string' } } }, { type: 'null' }] } },
    }),
  ).toEqual([
    ['`a`', 'integer', 'yes', 'default 1'],
    ['`b`', 'object | null', '', ''],
    ['`b.c`', 'string', '', ''],
  ]);
});
