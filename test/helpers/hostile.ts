/**
 * Hostile "audio" for tests: files that make ffmpeg open something other than themselves — playlists,
 * concat scripts, image sequences, SDP, protocol tricks, and a real MP4 whose track lives in another file.
 * Each is built from a canary file on this machine's disk: a server that followed the reference would
 * transcribe the canary (the probe that filed issue 14 did exactly that).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export interface HostileCase {
  name: string;
  /** the file name the client sends (playlist tricks work with any name, `.mp3` included) */
  filename: string;
  data: Buffer;
}

/** ISO-BMFF box headers of `buf[start, end)`: offset, size, type. */
function* boxes(buf: Buffer, start: number, end: number): Generator<{ at: number; size: number; type: string }> {
  for (let at = start; at + 8 <= end; ) {
    const size = buf.readUInt32BE(at);
    if (size < 8) return;
    yield { at, size, type: buf.toString('latin1', at + 4, at + 8) };
    at += size;
  }
}

/** The chain of boxes moov/trak/mdia/minf/dinf/dref (offset, size of each). */
function findPath(buf: Buffer, start: number, end: number, names: string[]): { at: number; size: number }[] | null {
  for (const b of boxes(buf, start, end)) {
    if (b.type !== names[0]) continue;
    if (names.length === 1) return [b];
    const rest = findPath(buf, b.at + 8, b.at + b.size, names.slice(1));
    if (rest) return [b, ...rest];
  }
  return null;
}

/**
 * An M4A whose one audio track's data reference is a Mac alias (QuickTime `alis` dref) naming `target`:
 * a valid container whose samples "live" in another file (ffmpeg's mov demuxer follows such aliases
 * when `enable_drefs` is on). The stco chunk offsets are shifted by the grown moov when moov comes first.
 * Layout of the alias record: libavformat/mov.c `mov_read_dref` (volume, file name, levels, type-2 absolute path).
 */
export function m4aWithExternalTrack(m4a: Buffer, target: string): Buffer {
  const chain = findPath(m4a, 0, m4a.length, ['moov', 'trak', 'mdia', 'minf', 'dinf', 'dref']);
  if (!chain) throw new Error('no dref box in the M4A');
  const dref = chain[chain.length - 1];
  const name = Buffer.from(path.basename(target));
  const abs = Buffer.from(target);
  const padded = abs.length % 2 ? Buffer.concat([abs, Buffer.alloc(1)]) : abs;
  const typeLen = Buffer.alloc(4);
  typeLen.writeUInt16BE(2, 0);
  typeLen.writeUInt16BE(abs.length, 2);
  const levels = Buffer.alloc(4);
  levels.writeInt16BE(-1, 0);
  levels.writeInt16BE(-1, 2);
  const end = Buffer.alloc(4);
  end.writeInt16BE(-1, 0);
  const record = Buffer.concat([
    Buffer.alloc(10),
    Buffer.from([3]),
    Buffer.concat([Buffer.from('vol'), Buffer.alloc(24)]),
    Buffer.alloc(12),
    Buffer.from([name.length]),
    Buffer.concat([name, Buffer.alloc(63 - name.length)]),
    Buffer.alloc(16),
    levels,
    Buffer.alloc(16),
    typeLen,
    padded,
    end,
  ]);
  const entryHead = Buffer.alloc(12);
  entryHead.writeUInt32BE(12 + record.length, 0);
  entryHead.write('alis', 4, 'latin1');
  const drefHead = Buffer.alloc(16);
  drefHead.writeUInt32BE(16 + 12 + record.length, 0);
  drefHead.write('dref', 4, 'latin1');
  drefHead.writeUInt32BE(1, 12);
  const newDref = Buffer.concat([drefHead, entryHead, record]);
  const delta = newDref.length - dref.size;
  const out = Buffer.concat([m4a.subarray(0, dref.at), newDref, m4a.subarray(dref.at + dref.size)]);
  for (const b of chain.slice(0, -1)) out.writeUInt32BE(b.size + delta, b.at);
  const moov = chain[0];
  const mdatFirst = [...boxes(m4a, 0, m4a.length)].some((b) => b.type === 'mdat' && b.at < moov.at);
  if (!mdatFirst) {
    // moov before mdat: every chunk offset moves by delta.
    const stco = findPath(out, 0, out.length, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stco']);
    if (stco) {
      const { at } = stco[stco.length - 1];
      const n = out.readUInt32BE(at + 12);
      for (let i = 0; i < n; i++) out.writeUInt32BE(out.readUInt32BE(at + 16 + 4 * i) + delta, at + 16 + 4 * i);
    }
  }
  return out;
}

/**
 * Every trick of issue 14, aimed at `canary` (a real audio file on this machine) or, for the network
 * forms, at `httpCanary` (a loopback HTTP server that records whether anything reached it).
 * @param work a scratch folder (PNG frames for the image-sequence case are written there)
 */
export function hostileCases(canary: string, httpCanary: string, work: string): HostileCase[] {
  const hls = (segment: string) =>
    Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:11\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:11.0,\n${segment}\n#EXT-X-ENDLIST\n`);
  const png = path.join(work, 'frame-001.png');
  if (!fs.existsSync(png)) {
    for (const i of [1, 2, 3]) {
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:s=16x16', '-frames:v', '1', path.join(work, `frame-00${i}.png`)]);
    }
  }
  const m4a = path.join(work, 'canary-faststart.m4a');
  if (!fs.existsSync(m4a)) {
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', canary, '-t', '3', '-c:a', 'aac', '-movflags', '+faststart', m4a]);
  }
  const small = fs.readFileSync(m4a).subarray(0, 4096).toString('base64');
  return [
    { name: 'HLS playlist named .mp3 (absolute path)', filename: 'x.mp3', data: hls(canary) },
    { name: 'HLS playlist, file:// segment, .m3u8 name', filename: 'x.m3u8', data: hls(`file://${canary}`) },
    { name: 'HLS playlist, http segment (loopback)', filename: 'x.mp3', data: hls(`${httpCanary}/segment.flac`) },
    { name: 'HLS playlist, concat: protocol', filename: 'x.mp3', data: hls(`concat:${canary}|${canary}`) },
    { name: 'HLS playlist, subfile protocol', filename: 'x.mp3', data: hls(`subfile,,start,0,end,0,,:${canary}`) },
    { name: 'HLS playlist, data: URI', filename: 'x.mp3', data: hls(`data:audio/mp4;base64,${small}`) },
    { name: 'HLS master playlist', filename: 'x.wav', data: Buffer.from(`#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n${httpCanary}/child.m3u8\n`) },
    { name: 'ffconcat script', filename: 'x.flac', data: Buffer.from(`ffconcat version 1.0\nfile '${canary}'\n`) },
    { name: 'ffconcat script, image-sequence pattern', filename: 'x.wav', data: Buffer.from(`ffconcat version 1.0\nfile '${path.join(work, 'frame-%03d.png')}'\n`) },
    { name: 'an image (PNG)', filename: 'x.wav', data: fs.readFileSync(png) },
    {
      name: 'SDP session description (opens sockets)',
      filename: 'x.sdp',
      data: Buffer.from('v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'),
    },
    { name: 'M4A whose track lives in another file (alias dref)', filename: 'x.m4a', data: m4aWithExternalTrack(fs.readFileSync(m4a), canary) },
  ];
}
