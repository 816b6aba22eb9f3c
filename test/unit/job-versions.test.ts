/** The job JSON of a re-transcribed job (api/job-json.ts) and its versions' workflow ids (api/versions.ts). */
import { jobJson, type JobRow } from '../../api/job-json';
import { runWorkflowId, versionWorkflowId } from '../../api/versions';

const JOB = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';

function row(over: Partial<JobRow>): JobRow {
  return {
    id: JOB, status: 'completed', mode: 'cloud', priority_class: 'interactive', tier: 'free', model: 'whisper-tiny.en',
    model_tier: 'economy', backend: 'cpu', language: 'en', language_probability: null, audio_seconds: 11, billed_seconds: 11,
    chunks_total: 1, chunks_done: 1, text: 'v1 text', segments: [{ start: 0, end: 11, text: 'v1 text' }], error_code: null,
    error_message: null, produced_by: 'server', options: { url: 'https://h/a.wav' }, expected_cost_per_minute: null,
    actual_cost_per_minute: null, waiting_for_capacity: false, fallbacks: [], created_at: new Date('2026-01-01T00:00:00Z'),
    started_at: null, first_result_at: null, completed_at: new Date('2026-01-01T00:00:20Z'), parent_job_id: null, version: 1,
    audio_retained_until: new Date('2026-01-01T01:00:20Z'),
    ...over,
  };
}

test('a job never re-transcribed: version 1, one entry in versions', () => {
  const j = jobJson(row({}));
  expect(j).toMatchObject({ id: JOB, version: 1, text: 'v1 text', url: 'https://h/a.wav', audioRetainedUntil: '2026-01-01T01:00:20.000Z' });
  expect(j.versions).toEqual([
    { version: 1, status: 'completed', model: 'whisper-tiny.en', createdAt: '2026-01-01T00:00:00.000Z', completedAt: '2026-01-01T00:00:20.000Z', billedSeconds: 11 },
  ]);
});

test('while version 2 runs the job shows it (no transcript); identity and retention stay the job’s', () => {
  const v2 = row({
    id: V2, parent_job_id: JOB, version: 2, status: 'running', model: 'whisper-base', text: null, segments: null,
    billed_seconds: null, completed_at: null, created_at: new Date('2026-01-01T00:05:00Z'), options: {}, audio_retained_until: null,
  });
  const j = jobJson(row({}), { versions: [row({}), v2] });
  expect(j).toMatchObject({ id: JOB, status: 'running', model: 'whisper-base', version: 2, createdAt: '2026-01-01T00:00:00.000Z' });
  expect(j.url).toBe('https://h/a.wav');
  expect(j.audioRetainedUntil).toBe('2026-01-01T01:00:20.000Z');
  expect(j).not.toHaveProperty('text');
  expect(j.versions.map((v) => [v.version, v.status, v.model])).toEqual([[1, 'completed', 'whisper-tiny.en'], [2, 'running', 'whisper-base']]);
});

test('workflow ids: transcription-<jobId> for version 1, transcription-<jobId>-v<n> after', () => {
  expect(versionWorkflowId(JOB, 1)).toBe(`transcription-${JOB}`);
  expect(versionWorkflowId(JOB, 3)).toBe(`transcription-${JOB}-v3`);
  expect(runWorkflowId(row({}))).toBe(`transcription-${JOB}`);
  expect(runWorkflowId(row({ id: V2, parent_job_id: JOB, version: 2 }))).toBe(`transcription-${JOB}-v2`);
});
