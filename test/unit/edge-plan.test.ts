/** Privacy mode's model choice from the device's capabilities, and the `edge` part of the job JSON. */
import { chooseEdgeModel } from '../../api/edge/plan';
import { edgeJobJson } from '../../api/edge/job-json';
import type { JobRow } from '../../api/job-json';

const INSTALLED = ['whisper-base', 'whisper-tiny.en'];
const caps = (c: Partial<{ wasmSimd: boolean; wasmThreads: boolean; deviceMemoryGb: number | null }> = {}) => ({
  wasmSimd: true,
  wasmThreads: true,
  deviceMemoryGb: 8,
  ...c,
});

describe('chooseEdgeModel', () => {
  test('the largest model the device can hold', () => {
    expect(chooseEdgeModel(caps(), {}, INSTALLED)).toEqual({ ok: true, model: 'whisper-base' });
    expect(chooseEdgeModel(caps({ deviceMemoryGb: 2 }), {}, INSTALLED)).toEqual({ ok: true, model: 'whisper-tiny.en' });
    // Browsers that do not report memory are assumed modest.
    expect(chooseEdgeModel(caps({ deviceMemoryGb: null }), {}, INSTALLED)).toEqual({ ok: true, model: 'whisper-tiny.en' });
    expect(chooseEdgeModel(undefined, {}, INSTALLED)).toEqual({ ok: true, model: 'whisper-tiny.en' });
  });

  test('edge is not possible without SIMD, on too little memory, or for a language the fitting model lacks', () => {
    expect(chooseEdgeModel(caps({ wasmSimd: false }), {}, INSTALLED)).toMatchObject({ ok: false, reason: expect.stringMatching(/SIMD/) });
    expect(chooseEdgeModel(caps({ deviceMemoryGb: 0.5 }), {}, INSTALLED)).toMatchObject({ ok: false, reason: expect.stringMatching(/0.5 GB/) });
    // German needs the multilingual model, which a 2 GB device cannot hold.
    expect(chooseEdgeModel(caps({ deviceMemoryGb: 2 }), { language: 'de' }, INSTALLED)).toMatchObject({ ok: false });
    expect(chooseEdgeModel(caps(), { language: 'de' }, INSTALLED)).toEqual({ ok: true, model: 'whisper-base' });
    expect(chooseEdgeModel(caps(), { task: 'translate' }, INSTALLED)).toEqual({ ok: true, model: 'whisper-base' });
  });

  test('an explicit model is honoured when the device can hold it', () => {
    expect(chooseEdgeModel(caps(), { model: 'whisper-tiny.en' }, INSTALLED)).toEqual({ ok: true, model: 'whisper-tiny.en' });
    expect(chooseEdgeModel(caps({ deviceMemoryGb: 2 }), { model: 'whisper-base' }, INSTALLED)).toMatchObject({ ok: false });
    expect(chooseEdgeModel(caps(), { model: 'whisper-large-v3' }, INSTALLED)).toMatchObject({ ok: false, reason: expect.stringMatching(/cannot run in the browser/) });
    expect(chooseEdgeModel(caps(), {}, ['whisper-tiny.en'])).toEqual({ ok: true, model: 'whisper-tiny.en' });
  });
});

describe('edgeJobJson', () => {
  const row = (r: Partial<JobRow>): JobRow =>
    ({
      status: 'queued',
      produced_by: 'server',
      options: { edge: { model: 'whisper-tiny.en', allowFallback: true, deadline: '2026-11-30T10:00:00.000Z', uploadDeadline: '2026-11-30T11:00:00.000Z' } },
      ...r,
    }) as JobRow;

  test('says how the job ended and what it was billed', () => {
    expect(edgeJobJson(row({}))).toMatchObject({ model: 'whisper-tiny.en', allowFallback: true, expiresAt: '2026-11-30T10:00:00.000Z', outcome: 'pending', billing: 'nothing billed' });
    expect(edgeJobJson(row({ status: 'completed', produced_by: 'edge' }))).toMatchObject({ outcome: 'edge', billing: expect.stringMatching(/^transcribed in the browser: 0 seconds billed/) });
    const waiting = row({});
    (waiting.options as any).edge.fallback = 'deadline';
    expect(edgeJobJson(waiting).outcome).toBe('awaiting-audio');
    (waiting.options as any).edge.fallback = 'uploaded';
    expect(edgeJobJson({ ...waiting, status: 'completed' })).toMatchObject({ outcome: 'cloud', billing: expect.stringMatching(/billed as a cloud job/) });
    expect(edgeJobJson(row({ status: 'expired' })).outcome).toBe('expired');
  });
});
