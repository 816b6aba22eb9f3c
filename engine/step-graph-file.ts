/**
 * Node-only: a merged decoder file read from disk with the step graph appended (step-graph.ts), for
 * `InferenceSession.create(bytes)`. Reads the file straight into a buffer with room for the appended field, so the
 * load holds one copy of the decoder's bytes, not two.
 */
import * as fs from 'node:fs';
import { stepGraphField } from './step-graph';

/**
 * @param file a merged decoder ONNX file (no external data)
 * @param timestampBegin the first timestamp token's id (WhisperVocab.timestampBegin)
 * @param layers the decoder's layer count, for the self-attention caches' last positions (step-graph.ts); 0: none
 * @returns the file's bytes followed by step-graph.ts stepGraphField(timestampBegin, layers)
 * @throws Error when the file cannot be read whole
 */
export function readFusedDecoder(file: string, timestampBegin: number, layers = 0): Uint8Array {
  const tail = stepGraphField(timestampBegin, layers);
  const size = fs.statSync(file).size;
  const out = new Uint8Array(size + tail.length);
  const fd = fs.openSync(file, 'r');
  try {
    for (let at = 0; at < size; ) {
      const n = fs.readSync(fd, out, at, size - at, at);
      if (n === 0) throw new Error(`${file}: read ${at} of ${size} bytes`);
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  out.set(tail, size);
  return out;
}
