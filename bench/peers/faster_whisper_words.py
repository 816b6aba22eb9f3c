"""faster-whisper word timestamps for bench/eval-words.ts, run with the venv made by bench/setup-peers.sh.

usage: python faster_whisper_words.py '{"ct2Dir":…,"threads":2,"language":"en","computeType":"int8","files":[{"name":…,"pcm":…}]}'
For each raw f32le 16 kHz mono file: WhisperModel.transcribe(word_timestamps=True) with the decoding that
bench/engine.ts compares at (CTranslate2 int8 on the original CT2 weights, or "computeType" float32 to compare float
graphs of ours with a float decoder of the same weights, greedy beam_size=1, temperature 0 only,
condition_on_previous_text=False, timestamps on, no VAD unless the file says "vad": true: then vad_filter=True with
faster-whisper's default VadOptions); prints one JSON line per file:
{"name", "seconds", "segments": [{"start", "end", "text", "words": [{"word", "start", "end", "probability"}]}]}.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    opts = json.loads(sys.argv[1])
    import numpy as np
    from faster_whisper import WhisperModel

    model = WhisperModel(opts["ct2Dir"], device="cpu", compute_type=opts.get("computeType", "int8"), cpu_threads=opts["threads"], num_workers=1)
    for f in opts["files"]:
        audio = np.fromfile(f["pcm"], dtype="<f4")
        t0 = time.perf_counter()
        segs, _ = model.transcribe(audio, beam_size=1, temperature=0.0, condition_on_previous_text=False,
                                   vad_filter=f.get("vad", False), language=opts.get("language"), word_timestamps=True)
        out = [{"start": s.start, "end": s.end, "text": s.text,
                "words": [{"word": w.word, "start": w.start, "end": w.end, "probability": w.probability} for w in s.words]}
               for s in segs]
        sys.stdout.write(json.dumps({"name": f["name"], "seconds": time.perf_counter() - t0, "segments": out}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
