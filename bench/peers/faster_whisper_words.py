"""faster-whisper word timestamps for bench/eval-words.ts and bench/words-cost.ts, run with the venv made by
bench/setup-peers.sh.

usage: python faster_whisper_words.py '{"ct2Dir":…,"threads":2,"language":"en","computeType":"int8","files":[{"name":…,"pcm":…}]}'
For each raw f32le 16 kHz mono file: WhisperModel.transcribe(word_timestamps=True) with the decoding that
bench/engine.ts compares at (CTranslate2 int8 on the original CT2 weights, or "computeType" float32 to compare float
graphs of ours with a float decoder of the same weights, greedy beam_size=1, temperature 0 only,
condition_on_previous_text=False, timestamps on, no VAD unless the file says "vad": true: then vad_filter=True with
faster-whisper's default VadOptions); prints one JSON line per file:
{"name", "seconds", "segments": [{"start", "end", "text", "words": [{"word", "start", "end", "probability"}]}]}.

With "serve": true instead of "files" (bench/words-cost.ts): the bench/peers line protocol of faster_whisper_peer.py
(bench/lib.ts PeerProcess): "@@{json}" lines on stdout, {"ready": …} after the load, then for each stdin line
"words PATH 0|1" the same transcription of that file with word_timestamps False (0) or True (1), answered with
{"seconds" (wall, the transcribe call and its generator), "cpuSeconds" (time.process_time: every thread of this
process, CTranslate2's included), "windows" (generate_with_fallback calls: one per 30 s window at temperature 0 only),
"tokens" (tokens generated over all windows: CTranslate2's decoder steps, less one per window for its end token),
"alignCalls", "alignSeconds", "alignCpuSeconds" (inside find_alignment: CTranslate2's align, i.e. the decoder pass over
the window's tokens, the median filter and the DTW, and its split into words), "words"}; "quit" ends it.
The counters wrap faster-whisper 1.1.0's WhisperModel methods on the instance (transcribe.py generate_segments calls
self.generate_with_fallback once per window and, with word_timestamps, add_word_timestamps → self.find_alignment once
per window), so nothing of the timed path changes.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def transcribe(model, audio, opts, vad, words):
    segs, _ = model.transcribe(audio, beam_size=1, temperature=0.0, condition_on_previous_text=False,
                               vad_filter=vad, language=opts.get("language"), word_timestamps=words)
    return list(segs)  # the generator does the work


def reply(obj):
    sys.stdout.write("@@" + json.dumps(obj) + "\n")
    sys.stdout.flush()


def serve(model, opts):
    import numpy as np

    counts = {"windows": 0, "tokens": 0, "alignCalls": 0, "alignSeconds": 0.0, "alignCpuSeconds": 0.0}
    gen = model.generate_with_fallback
    align = model.find_alignment

    def counted_gen(*a, **k):
        out = gen(*a, **k)
        counts["windows"] += 1
        counts["tokens"] += len(out[0].sequences_ids[0])
        return out

    def timed_align(*a, **k):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return align(*a, **k)
        finally:
            counts["alignCalls"] += 1
            counts["alignSeconds"] += time.perf_counter() - t0
            counts["alignCpuSeconds"] += time.process_time() - c0

    model.generate_with_fallback = counted_gen
    model.find_alignment = timed_align
    reply({"ready": True})
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        try:
            if parts[0] != "words" or len(parts) != 3:
                raise ValueError(f"expected 'words PATH 0|1', got {line.strip()!r}")
            audio = np.fromfile(parts[1], dtype="<f4")
            for k in counts:
                counts[k] = 0
            t0, c0 = time.perf_counter(), time.process_time()
            segs = transcribe(model, audio, opts, False, parts[2] == "1")
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            reply({"seconds": seconds, "cpuSeconds": cpu, **counts,
                   "words": sum(len(s.words or []) for s in segs), "segments": len(segs)})
        except Exception as e:  # noqa: BLE001 - reported in the bench row
            reply({"error": f"{type(e).__name__}: {e}"})
    return 0


def main():
    opts = json.loads(sys.argv[1])
    from faster_whisper import WhisperModel

    model = WhisperModel(opts["ct2Dir"], device="cpu", compute_type=opts.get("computeType", "int8"), cpu_threads=opts["threads"], num_workers=1)
    if opts.get("serve"):
        return serve(model, opts)
    import numpy as np

    for f in opts["files"]:
        audio = np.fromfile(f["pcm"], dtype="<f4")
        t0 = time.perf_counter()
        segs = transcribe(model, audio, opts, f.get("vad", False), True)
        out = [{"start": s.start, "end": s.end, "text": s.text,
                "words": [{"word": w.word, "start": w.start, "end": w.end, "probability": w.probability} for w in s.words]}
               for s in segs]
        sys.stdout.write(json.dumps({"name": f["name"], "seconds": time.perf_counter() - t0, "segments": out}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
