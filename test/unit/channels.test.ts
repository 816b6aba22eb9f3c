/** Merging a multichannel job's chunk results: per channel, then all channels in time order. */
import { CHANNEL_CHUNK_STRIDE, mergeChannels } from '../../activities/channels';
import { toSrt, toVtt } from '../../api/transcript-formats';

const row = (channel: number, i: number, start: number, end: number, segments: { start: number; end: number; text: string }[]) => ({
  chunk_index: channel * CHANNEL_CHUNK_STRIDE + i,
  start_s: start,
  end_s: end,
  segments,
});

test('channels are merged on their own and interleaved by time for the job', () => {
  const rows = [
    row(0, 0, 0, 30, [{ start: 1, end: 3, text: ' left one' }]),
    row(0, 1, 30, 40, [{ start: 0, end: 2, text: ' left two' }]),
    row(1, 0, 0, 40, [{ start: 2, end: 4, text: ' right one' }]),
  ];
  const m = mergeChannels(rows, 3, 40);
  expect(m.channels).toEqual([
    { channel: 0, text: 'left one left two', segments: [{ start: 1, end: 3, text: 'left one' }, { start: 30, end: 32, text: 'left two' }] },
    { channel: 1, text: 'right one', segments: [{ start: 2, end: 4, text: 'right one' }] },
    { channel: 2, text: '', segments: [] },
  ]);
  expect(m.segments.map((s) => [s.channel, s.start])).toEqual([[0, 1], [1, 2], [0, 30]]);
  expect(m.text).toBe('left one right one left two');
  // Subtitles label a channel with the JSON's own `channel` number.
  expect(toSrt(m.segments)).toContain('[Channel 1] right one');
  expect(toVtt(m.segments)).toContain('<v Channel 0>left one');
  expect(toSrt([{ start: 0, end: 1, text: 'mono' }])).not.toContain('Channel');
});
