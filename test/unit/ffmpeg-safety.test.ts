/** audio/ffmpeg-safety.ts: the demuxer allow-list, the argument builder and the scrubbing of ffmpeg's words. */
import {
  AUDIO_DEMUXERS,
  demuxerFor,
  fileUrl,
  probeArgs,
  safeInputArgs,
  safeInputOptions,
  scrubInternals,
  UnsupportedAudioError,
} from '../../audio/ffmpeg-safety';

describe('demuxerFor: ffprobe format_name → the demuxer forced on the decode', () => {
  test.each([
    ['wav', 'wav'],
    ['flac', 'flac'],
    ['mp3', 'mp3'],
    ['ogg', 'ogg'],
    ['matroska,webm', 'matroska'],
    ['mov,mp4,m4a,3gp,3g2,mj2', 'mov'],
    ['aac', 'aac'],
    ['asf', 'asf'],
    ['caf', 'caf'],
  ])('%s → %s', (formatName, demuxer) => expect(demuxerFor(formatName)).toBe(demuxer));

  test.each(['hls', 'concat', 'image2', 'png_pipe', 'jpeg_pipe', 'sdp', 'rtp', 'rtsp', 'dash', 'ffmetadata', 'tty', 'lavfi', 'srt', 'webvtt', 'imf', 'mpjpeg', '', undefined])(
    '%s → refused (null)',
    (formatName) => expect(demuxerFor(formatName)).toBeNull(),
  );

  test('only the demuxer’s own (first) name counts: an alias list led by a refused name is refused', () => {
    expect(demuxerFor('hls,mp3')).toBeNull();
    expect(demuxerFor('concat,wav')).toBeNull();
  });
});

describe('argument builder', () => {
  test('every input option set: file protocol only, demuxer whitelist, demuxer forced, file: URL', () => {
    const args = safeInputArgs('/blobs/j/upload', 'flac');
    expect(args).toEqual(['-protocol_whitelist', 'file', '-format_whitelist', AUDIO_DEMUXERS.join(','), '-f', 'flac', '-i', 'file:/blobs/j/upload']);
    expect(safeInputOptions('mov')).toEqual(expect.arrayContaining(['-enable_drefs', '0']));
    expect(probeArgs('/blobs/j/upload')).toEqual(
      expect.arrayContaining(['-protocol_whitelist', 'file', '-format_whitelist', AUDIO_DEMUXERS.join(','), 'file:/blobs/j/upload']),
    );
  });

  test('a path that looks like a protocol is still one local file', () => {
    expect(fileUrl('/x/concat:a|b')).toBe('file:/x/concat:a|b');
    expect(fileUrl('subfile,,start,0,end,0,,:/etc/passwd').startsWith('file:/')).toBe(true);
  });

  test('a demuxer that is not on the list is never passed to -f', () => {
    for (const bad of ['hls', 'concat', 'image2', 'sdp']) expect(() => safeInputOptions(bad)).toThrow(UnsupportedAudioError);
  });

  test('the list holds no demuxer that opens other inputs', () => {
    for (const bad of ['hls', 'applehttp', 'concat', 'image2', 'sdp', 'rtsp', 'dash', 'imf', 'mpd', 'lavfi']) expect(AUDIO_DEMUXERS).not.toContain(bad);
  });
});

describe('scrubInternals: the log gets ffmpeg’s (and onnxruntime’s) words without heap addresses or our paths', () => {
  test.each([
    ['[flac @ 0x556d7a96dfc0] invalid residual', '[flac] invalid residual'],
    ["[http @ 0x55d1c0a3e100] Protocol 'http' not on whitelist 'file'!", "[http] Protocol 'http' not on whitelist 'file'!"],
    ['[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5637d1d51940] stream 0, error opening alias', '[mov,mp4,m4a,3gp,3g2,mj2] stream 0, error opening alias'],
    ['file:/var/lib/fairscribe/blobs/1234/upload: Invalid data found when processing input', '<input>: Invalid data found when processing input'],
    ['pointer 0x7ffd12345678 left', 'pointer 0x… left'],
  ])('%s', (raw, scrubbed) => expect(scrubInternals(raw)).toBe(scrubbed));

  test('UnsupportedAudioError keeps our sentence as its message and a scrubbed detail', () => {
    const err = new UnsupportedAudioError('the audio cannot be decoded', '[flac @ 0x556d7a96dfc0] invalid residual');
    expect(err.message).toBe('the audio cannot be decoded');
    expect(err.detail).toBe('[flac] invalid residual');
    expect(err.code).toBe('unsupported_audio');
  });
});

test('onnxruntime’s load error loses its paths', () => {
  const raw =
    'Load model from /tmp/fs-quota-zgBEp0/broken-models/whisper-tiny.en/onnx/encoder_model_quantized.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:187 onnxruntime::Model::Model ModelProto does not have a graph.';
  const scrubbed = scrubInternals(raw);
  expect(scrubbed).not.toMatch(/\/tmp|onnxruntime_src/);
  expect(scrubbed).toContain('ModelProto does not have a graph');
});
