/**
 * How every ffmpeg and ffprobe run opens an input we did not make (an upload, audio fetched by URL).
 *
 * ffmpeg is a general media framework: left to itself it picks a demuxer by sniffing the bytes, and
 * several demuxers open *further* inputs named inside the file — HLS playlists (`hls`), ffconcat scripts
 * (`concat`), image sequences (`image2`), SDP descriptions (`sdp`, which opens network sockets), DASH
 * manifests, MOV/MP4 external data references (`dref`/alias atoms) — and protocols such as `subfile`,
 * `data`, `concat`, `http` turn a name into bytes from anywhere. An upload that is a playlist naming
 * `/srv/other-user/audio.flac` would be transcribed as that file. So, for every run:
 *
 * 1. `-protocol_whitelist file`: the only protocol is the local file we name (no `http`, `concat:`,
 *    `subfile,`, `data:`, `pipe`…); nested opens inherit the whitelist (libavformat `AVFormatContext.protocol_whitelist`).
 * 2. `-format_whitelist` with AUDIO_DEMUXERS: libavformat refuses to open any other demuxer, even while
 *    probing, so an HLS or concat input is never parsed far enough to open what it names.
 * 3. ffprobe's `format_name` is checked against the same list (probeContainer), and the decode forces
 *    that demuxer with `-f`: the bytes cannot be re-sniffed as something else at decode time.
 * 4. The input is named `file:<absolute path>`, so a path can never be read as a protocol.
 * 5. MOV/MP4 (`mov` demuxer): `-enable_drefs 0` (libavformat's default since 2016, stated here so a
 *    changed default cannot reopen it): a track whose samples live in another file is not followed; it
 *    then has no packet, which the admission probe refuses (audio/ffmpeg.ts `probeAudio`), and decodes
 *    to nothing, which preparation refuses (`decodeToPcm`).
 *
 * Reference: FFmpeg's own documentation of these options (`ffmpeg-formats(1)` "format_whitelist",
 * `ffmpeg-protocols(1)` "protocol_whitelist") and the HLS local-file-read reports that motivated them.
 * Issue 20 (audio fetched by URL) decodes its downloaded file through the same functions.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

/** The audio cannot be used: empty, not audio, not an allowed container, truncated or undecodable. */
export class UnsupportedAudioError extends Error {
  readonly code = 'unsupported_audio';
  /**
   * @param message our sentence for the client (never ffmpeg's text: it carries heap addresses and paths)
   * @param detail ffmpeg's own words, for the log only
   */
  readonly detail: string;
  constructor(message: string, detail = '') {
    super(message);
    this.detail = scrubInternals(detail);
  }
}

/**
 * Demuxers (libavformat names) of real audio and audio/video containers that never open a second input.
 * ffprobe reports a demuxer by all its names (`mov,mp4,m4a,3gp,3g2,mj2`; `matroska,webm`); the first
 * name is what `-f` takes. Opus and Vorbis arrive in `ogg` or `matroska`, WMA in `asf`.
 * Deliberately absent: hls, concat, image2 and every *_pipe image demuxer, sdp, rtp, rtsp, dash, mpd,
 * ffmetadata, tty, lavfi, subtitle formats, imf, and anything that reads a list of other files.
 */
export const AUDIO_DEMUXERS: readonly string[] = [
  'wav',
  'w64',
  'flac',
  'mp3', // MPEG audio layers I–III
  'ogg',
  'matroska', // matroska,webm
  'mov', // mov,mp4,m4a,3gp,3g2,mj2
  'aac', // ADTS
  'aiff',
  'caf',
  'asf', // WMA/WMV
  'amr',
  'amrnb',
  'amrwb',
  'ac3',
  'eac3',
  'au',
  'wv', // WavPack
  'ape',
  'tta',
  'avi',
  'flv',
  'mpegts',
  'mpeg', // MPEG program stream
  'voc',
];

/** `-format_whitelist` value: libavformat matches a demuxer if any of its names is listed. */
const FORMAT_WHITELIST = AUDIO_DEMUXERS.join(',');

/**
 * The `-f` name for ffprobe's `format_name`, or null when the container is not an allowed one.
 * @param formatName e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `hls`, `concat`, `image2`
 */
export function demuxerFor(formatName: string | undefined): string | null {
  if (!formatName) return null;
  const names = formatName.split(',').map((s) => s.trim());
  // The demuxer's own (first) name must be on the list: `mov,mp4,…` → mov.
  return AUDIO_DEMUXERS.includes(names[0]) ? names[0] : null;
}

/** The input named so that ffmpeg reads it as one local file whatever its name looks like. */
export function fileUrl(file: string): string {
  return `file:${path.resolve(file)}`;
}

/** Options common to every open of an untrusted input (before `-i`, or ffprobe's input). */
function openOptions(): string[] {
  return ['-protocol_whitelist', 'file', '-format_whitelist', FORMAT_WHITELIST];
}

/**
 * Input options for ffmpeg decoding `demuxer` (as probeContainer named it): to go before `-i`.
 * fluent-ffmpeg: `ffmpeg(fileUrl(file)).inputOptions(safeInputOptions(demuxer))`.
 * @throws UnsupportedAudioError when `demuxer` is not on AUDIO_DEMUXERS (never decode an unchecked name)
 */
export function safeInputOptions(demuxer: string): string[] {
  if (!AUDIO_DEMUXERS.includes(demuxer)) throw new UnsupportedAudioError('the file is not in a supported audio container', `demuxer ${demuxer}`);
  return [...openOptions(), '-f', demuxer, ...(demuxer === 'mov' ? ['-enable_drefs', '0'] : [])];
}

/** Whole input argument list for a direct `spawn('ffmpeg', …)`: options, `-i`, the file. */
export function safeInputArgs(file: string, demuxer: string): string[] {
  return [...safeInputOptions(demuxer), '-i', fileUrl(file)];
}

/** ffprobe's JSON (`-show_format -show_streams`), the fields we read. */
export interface ProbeData {
  format: { format_name?: string; duration?: string; start_time?: string };
  streams: { codec_type?: string; codec_name?: string; channels?: number; sample_rate?: string; duration?: string; start_time?: string; tags?: Record<string, string> }[];
  /** with `firstPacket`: the first audio packet, if the demuxer could read one */
  packets?: { codec_type?: string; size?: string }[];
}

export interface ProbeOptions {
  /**
   * Also demux the first packet of the first audio stream (`-select_streams a:0 -show_packets
   * -read_intervals %+#1`; `streams` then lists that stream only): a track whose samples are not in
   * the file (a MOV data reference, not followed) has a header but no packet. No decoding.
   */
  firstPacket?: boolean;
}

/** ffprobe arguments for `file`: whitelisted protocols and demuxers, JSON out. */
export function probeArgs(file: string, opts: ProbeOptions = {}): string[] {
  const packet = opts.firstPacket ? ['-select_streams', 'a:0', '-show_packets', '-read_intervals', '%+#1'] : [];
  return ['-v', 'error', ...openOptions(), ...packet, '-show_format', '-show_streams', '-of', 'json', fileUrl(file)];
}

/** How long ffprobe may take on one file: a header read is milliseconds; anything slower is hostile. */
const PROBE_TIMEOUT_MS = 30_000;
const PROBE_MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * Runs ffprobe on `file` with the whitelists and checks the container against AUDIO_DEMUXERS.
 * @returns the demuxer to force (`-f`) on the decode, and ffprobe's data
 * @throws UnsupportedAudioError (our sentence; ffmpeg's words in `detail`)
 */
export async function probeContainer(file: string, opts: ProbeOptions = {}): Promise<{ demuxer: string; data: ProbeData }> {
  const { stdout, stderr, failed } = await new Promise<{ stdout: string; stderr: string; failed: boolean }>((resolve) =>
    execFile('ffprobe', probeArgs(file, opts), { timeout: PROBE_TIMEOUT_MS, maxBuffer: PROBE_MAX_OUTPUT }, (err, out, errOut) =>
      resolve({ stdout: String(out), stderr: String(errOut || (err ? err.message : '')), failed: err !== null }),
    ),
  );
  if (failed) {
    // "Format not on whitelist" is a container we refuse (playlist, script, image…), the rest is not media.
    const refused = /not on whitelist/i.test(stderr);
    throw new UnsupportedAudioError(
      refused ? 'the file is not in a supported audio container' : 'the file is not readable audio',
      stderr,
    );
  }
  let data: ProbeData;
  try {
    data = JSON.parse(stdout) as ProbeData;
  } catch {
    throw new UnsupportedAudioError('the file is not readable audio', stdout.slice(0, 500));
  }
  const demuxer = demuxerFor(data.format?.format_name);
  if (!demuxer) {
    throw new UnsupportedAudioError('the file is not in a supported audio container', `format_name ${data.format?.format_name}`);
  }
  return { demuxer, data: { format: data.format ?? {}, streams: data.streams ?? [], ...(data.packets ? { packets: data.packets } : {}) } };
}

/**
 * A tool's words (ffmpeg's, onnxruntime's) made safe to log and never to show: heap addresses
 * (`[flac @ 0x55…]`) and our paths replaced. Users get our own sentence (UnsupportedAudioError's message) instead.
 */
export function scrubInternals(s: string): string {
  return s
    .replace(/\[([\w ,.-]+) @ 0x[0-9a-f]+\]\s*/gi, '[$1] ')
    .replace(/0x[0-9a-f]{6,}/gi, '0x…')
    .replace(/(?:file:)?\/[^\s:'",)]+/g, '<input>')
    .trim()
    .slice(0, 2000);
}
