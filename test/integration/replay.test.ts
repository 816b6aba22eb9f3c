/**
 * Workflow determinism across code changes: every history under test/fixtures/histories (recorded from jobs run by an
 * earlier version of the workflows, see its README) must replay on the current workflow bundle without a
 * nondeterminism error, and so must the histories of jobs run now. A change of a workflow's command sequence that is
 * not behind `patched()` fails here (Temporal would fail those workflows' next task in production).
 *
 * `WRITE_HISTORY_FIXTURES=<name>` also writes the fresh jobs' histories to test/fixtures/histories/<name>-<shape>.binpb
 * (how the fixtures were made: run this file on the code before the change, commit the files).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import WebSocket from 'ws';
import { temporal } from '@temporalio/proto';
import { workflowIdFor } from '../../common/constants';
import { workflowBundle } from '../../workers/bundle';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';

const FIXTURES = path.resolve(__dirname, '../fixtures/histories');
const AUDIO = path.resolve(__dirname, '../../../shared/audio');

let app: TestApp;
let key: string;

beforeAll(async () => {
  app = await startTestApp();
  key = (await app.user('premium')).apiKey;
}, 120_000);

afterAll(async () => {
  await app?.stop();
}, 60_000);

/** Replays `history` (a History proto) on the current bundle; rejects on nondeterminism. */
async function replay(history: unknown, workflowId: string): Promise<void> {
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
}

/**
 * Histories are stored as the protobuf binary (temporal.api.history.v1.History): @temporalio/common's historyToJSON
 * throws here ("type must be a Type": it carries protobufjs 8 while @temporalio/proto's classes are protobufjs 7).
 */
const History = temporal.api.history.v1.History;
const fixtures = fs.existsSync(FIXTURES) ? fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.binpb')).sort() : [];

test('there are recorded histories to replay', () => {
  expect(fixtures.length).toBeGreaterThan(0);
});

test.each(fixtures)('recorded history %s replays on the current workflows', async (file) => {
  const history = History.decode(fs.readFileSync(path.join(FIXTURES, file)));
  await replay(history, `replay-${file}`);
}, 60_000);

/** The job shapes whose finish differs (workflows/transcription.ts): plain, audio retained, multichannel, cancelled. */
const SHAPES: [string, string, Record<string, string>][] = [
  ['plain', 'jfk.wav', { language: 'en', model: 'whisper-tiny.en' }],
  ['retained', 'jfk.wav', { language: 'en', model: 'whisper-tiny.en', retainAudioSeconds: '600' }],
  ['multichannel', 'stereo_diarization.wav', { language: 'en', model: 'whisper-tiny.en', multichannel: 'true' }],
  // cancelled as soon as it is admitted (POST /v1/jobs/:id/cancel: Temporal's workflow cancellation)
  ['cancelled', 'jfk.wav', { language: 'en', model: 'whisper-tiny.en' }],
];

/** The finish's local activities, in order, per shape (none where WORKFLOW_PATCHES_OFF leaves the patch off). */
const LOCAL_FINISH: Record<string, string[]> = {
  plain: ['settleQuota', 'finalizeTranscript', 'deleteAudio'],
  retained: ['settleQuota', 'finalizeTranscript'],
  multichannel: ['settleQuota', 'finalizeChannels', 'deleteAudio'],
  cancelled: ['settleQuota', 'deleteAudio', 'updateJob'],
};
const patchOff = (process.env.WORKFLOW_PATCHES_OFF ?? '').split(',').includes('finish-as-local-activities');

test.each(SHAPES)('a %s job run now replays on the current workflows', async (shape, file, fields) => {
  const res = await submitFile(app.url, key, path.join(AUDIO, file), fields);
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  if (shape === 'cancelled') {
    const c = await fetch(`${app.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    expect(c.status).toBe(202);
  }
  const job = await waitForJob(app.url, key, id);
  expect(job.status).toBe(shape === 'cancelled' ? 'cancelled' : 'completed');
  const handle = app.api.temporal.workflow.getHandle(workflowIdFor(id));
  await handle.result().catch(() => undefined); // the workflow's end (it deletes the audio after `completed`)
  const history = await handle.fetchHistory();
  const name = process.env.WRITE_HISTORY_FIXTURES;
  if (name) {
    fs.mkdirSync(FIXTURES, { recursive: true });
    fs.writeFileSync(path.join(FIXTURES, `${name}-${shape}.binpb`), History.encode(history).finish());
  }
  await replay(history, workflowIdFor(id));
  // The finish ran as local activities (workflows/transcription.ts LOCAL_FINISH_PATCH): markers, no activity tasks.
  const events = history.events ?? [];
  const scheduled = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
  const local = events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .map((e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes!.details!.data!.payloads![0].data!).toString('utf8')).activity_type);
  if (patchOff) {
    expect(local).toEqual([]);
    return;
  }
  for (const step of LOCAL_FINISH[shape]) expect(scheduled).not.toContain(step);
  expect(local).toEqual(LOCAL_FINISH[shape]);
}, 120_000);

/**
 * A live stream ended by the client's protocol error (text where audio belongs): its workflow closes Completed with
 * result status `failed` under workflows/live.ts LIVE_CLIENT_ERROR_COMPLETES_PATCH, Failed with the patch off
 * (WORKFLOW_PATCHES_OFF=live-client-error-completes: the code before it). Either replays.
 */
test('a live stream ended by a protocol error replays on the current workflows', async () => {
  const ws = new WebSocket(`${app.url.replace('http', 'ws')}/v1/listen`, { headers: { authorization: `Bearer ${key}` } });
  const messages: { type: string; code?: string; jobId?: string }[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'start', sampleRate: 16000, encoding: 'pcm_s16le', model: 'whisper-tiny.en' }));
  ws.send(Buffer.alloc(3200)); // 100 ms of silence
  ws.send('not audio');
  await closed;
  expect(messages).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_request', jobId: expect.any(String) })]);
  const handle = app.api.temporal.workflow.getHandle(workflowIdFor(messages[0].jobId!));
  await handle.result().catch(() => undefined);
  const patchedOff = (process.env.WORKFLOW_PATCHES_OFF ?? '').split(',').includes('live-client-error-completes');
  expect((await handle.describe()).status.name).toBe(patchedOff ? 'FAILED' : 'COMPLETED');
  const history = await handle.fetchHistory();
  const name = process.env.WRITE_HISTORY_FIXTURES;
  if (name) {
    fs.mkdirSync(FIXTURES, { recursive: true });
    fs.writeFileSync(path.join(FIXTURES, `${name}-live-protocol-error.binpb`), History.encode(history).finish());
  }
  await replay(history, workflowIdFor(messages[0].jobId!));
}, 60_000);
