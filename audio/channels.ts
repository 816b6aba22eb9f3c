/**
 * Multichannel audio (multichannel=true): each channel decoded on its own to Whisper's input (16 kHz
 * mono float32), with ffmpeg's `pan` filter picking one input channel (activities/channels.ts gives
 * audio/prepare.ts the filter), where a one-channel job's decode downmixes every channel into one.
 */
import { decodeToPcm } from './ffmpeg';

/** Most channels a multichannel job may have (each is transcribed and billed on its own). */
export const MAX_CHANNELS = 8;

/**
 * Decodes channel `channel` (0-based) of the first audio stream to 16 kHz float32 little-endian raw
 * samples: decodeToPcm with ffmpeg's `pan` filter (preparation streams it through audio/prepare.ts).
 * @returns the number of samples written
 * @throws UnsupportedAudioError when the container is not allowed or ffmpeg cannot decode it
 */
export function decodeChannelToPcm(inFile: string, outFile: string, channel: number, signal?: AbortSignal): Promise<number> {
  return decodeToPcm(inFile, outFile, { signal, audioFilter: channelFilter(channel), what: `channel ${channel}` });
}

/** ffmpeg's -af picking input channel `channel` (0-based) as the mono output. */
export function channelFilter(channel: number): string {
  return `pan=mono|c0=c${channel}`;
}
