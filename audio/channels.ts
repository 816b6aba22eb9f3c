/**
 * Multichannel audio (multichannel=true): each channel decoded on its own to Whisper's input (16 kHz
 * mono float32), with ffmpeg's `pan` filter picking one input channel. Beside ffmpeg.ts's `decodeToPcm`,
 * which downmixes every channel into one.
 */
import * as fs from 'node:fs';
import ffmpeg from 'fluent-ffmpeg';
import { SAMPLE_RATE } from '../engine/constants';
import { ffmpegDetail, UnsupportedAudioError } from './ffmpeg';
import { fileUrl, probeContainer, safeInputOptions } from './ffmpeg-safety';

/** Most channels a multichannel job may have (each is transcribed and billed on its own). */
export const MAX_CHANNELS = 8;

/**
 * Decodes channel `channel` (0-based) of the first audio stream to 16 kHz float32 little-endian raw samples.
 * @returns the number of samples written
 * The container is probed (allowed demuxers only) and forced, as for every input (audio/ffmpeg-safety.ts).
 * @throws UnsupportedAudioError when the container is not allowed or ffmpeg cannot decode it
 */
export async function decodeChannelToPcm(inFile: string, outFile: string, channel: number, signal?: AbortSignal): Promise<number> {
  const { demuxer } = await probeContainer(inFile);
  // Aborted during the probe: the 'abort' event below has fired already and would never kill ffmpeg.
  signal?.throwIfAborted();
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    const command = ffmpeg(fileUrl(inFile))
      .inputOptions([...safeInputOptions(demuxer), '-v', 'error'])
      .noVideo()
      .outputOptions(['-map', '0:a:0', '-af', `pan=mono|c0=c${channel}`])
      .audioFrequency(SAMPLE_RATE)
      .audioCodec('pcm_f32le')
      .format('f32le')
      .on('stderr', (line: string) => (stderr += line + '\n'))
      .on('error', (err: Error) => reject(new UnsupportedAudioError(`channel ${channel} cannot be decoded`, ffmpegDetail(stderr, err))))
      .on('end', () => resolve());
    signal?.addEventListener('abort', () => command.kill('SIGKILL'), { once: true });
    command.save(outFile);
  });
  const samples = fs.statSync(outFile).size / 4;
  if (samples === 0) throw new UnsupportedAudioError(`channel ${channel} decodes to no audio`, 'decoded 0 samples');
  return samples;
}
