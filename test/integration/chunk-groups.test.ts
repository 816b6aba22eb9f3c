/**
 * History bound: past CHUNKS_PER_CHILD_WORKFLOW chunks a job runs its chunks in child workflows of
 * chunk groups (workflows/chunks.ts). With a test-only limit of 2, a ~4-chunk job runs in children, its
 * own history holds no chunk activity, each chunk is stored once, and a cancel reaches the children.
 * Prints the measured history events per chunk (the basis of the default limit).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { workflowIdFor } from '../../common/constants';
import { startTestApp, submitFile, type TestApp } from '../helpers/harness';
import { checkInvariants, until, waitForEnd } from '../helpers/chaos';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const PER_CHILD = 2;

let app: TestApp;
let tmp: string;
let file: string;
let apiKey: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-groups-'));
  file = path.join(tmp, 'jfk-x8.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '7', '-i', path.join(AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', file]);
  app = await startTestApp({ CHUNKS_PER_CHILD_WORKFLOW: String(PER_CHILD) });
  ({ apiKey } = await app.user('premium'));
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

async function submit(): Promise<string> {
  const res = await submitFile(app.url, apiKey, file, { model: 'whisper-tiny.en', language: 'en' });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const eventsOf = async (workflowId: string) => (await app.api.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];

test('a job over the limit runs its chunks in child workflows; the parent history stays small', async () => {
  const id = await submit();
  const statuses = await waitForEnd(app, [id], 240_000);
  expect(statuses.get(id)).toBe('completed');
  const inv = await checkInvariants(app, app.api.temporal, statuses);
  expect(inv.problems).toEqual([]);

  const { rows } = await app.pool.query('SELECT chunks_total, text FROM jobs WHERE id = $1', [id]);
  const chunks: number = rows[0].chunks_total;
  expect(chunks).toBeGreaterThan(PER_CHILD);
  const parent = await eventsOf(workflowIdFor(id));
  const childrenDone = parent.filter((e) => e.childWorkflowExecutionCompletedEventAttributes);
  expect(childrenDone).toHaveLength(Math.ceil(chunks / PER_CHILD));
  expect(parent.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'transcribeChunk')).toEqual([]);
  expect((rows[0].text.match(/ask not what your country/gi) ?? []).length).toBeLessThanOrEqual(8);

  // Per-chunk cost: a child's events beyond its fixed start/finish ones, over its chunks.
  let childEvents = 0;
  for (let k = 0; k < childrenDone.length; k++) childEvents += (await eventsOf(`${workflowIdFor(id)}-chunks-${k}`)).length;
  const fixedPerChild = 5; // started, workflow task scheduled/started/completed, completed
  const perChunk = (childEvents - fixedPerChild * childrenDone.length) / chunks;
  process.stderr.write(
    `[history] ${chunks} chunks in ${childrenDone.length} children: parent ${parent.length} events; ` +
      `children ${childEvents} events = ${perChunk.toFixed(1)} per chunk + ${fixedPerChild} per child\n`,
  );
  expect(perChunk).toBeLessThan(8);
  // The parent: its own fixed steps (~40 events: prepare, updates, settle, finalize, cleanup) and a
  // handful per child, whatever the chunk count.
  expect(parent.length).toBeLessThanOrEqual(45 + 8 * childrenDone.length);
}, 300_000);

test('cancelling a job cancels its running child; nothing reserved, no blobs', async () => {
  const id = await submit();
  await until('the first child workflow', async () => {
    try {
      await app.api.temporal.workflow.getHandle(`${workflowIdFor(id)}-chunks-0`).describe();
      return true;
    } catch {
      return false;
    }
  }, 120_000, 200);
  const res = await fetch(`${app.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` } });
  if (res.status === 409) return; // ended first on a fast machine: nothing to check here
  expect(res.status).toBe(202);
  const statuses = await waitForEnd(app, [id], 120_000);
  expect(statuses.get(id)).toBe('cancelled');
  const inv = await checkInvariants(app, app.api.temporal, statuses);
  expect(inv.problems).toEqual([]);
  for (let k = 0; ; k++) {
    let d;
    try {
      d = await app.api.temporal.workflow.getHandle(`${workflowIdFor(id)}-chunks-${k}`).describe();
    } catch {
      break;
    }
    expect(d.status.name).not.toBe('RUNNING');
  }
}, 240_000);
