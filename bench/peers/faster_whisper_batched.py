"""faster-whisper's BatchedInferencePipeline for bench/pipeline.ts, run with the venv made by bench/setup-peers.sh.

usage: python faster_whisper_batched.py '{"ct2Dir":…,"threads":2,"language":"en","batchSize":8}'
Protocol (stdout, one JSON object per line prefixed with "@@"): {"ready":…} after the model is loaded, then for
every "file PATH" line on stdin (raw f32le 16 kHz mono) {"seconds":…,"vadSeconds":…,"text":…,"segments":…};
"quit" ends it.
Pinned as our pipeline runs in bench/pipeline.ts: CTranslate2 int8 on the same weights, greedy (beam_size=1),
temperature 0 only (no fallback), language given, word timestamps off, condition_on_previous_text False,
its own Silero VAD on (vad_filter=True, the pipeline's default: both sides include their VAD), batch_size and
cpu_threads from the options. "seconds" is the whole call (VAD + inference); "vadSeconds" times get_speech_timestamps alone on the
same audio, once, outside the timed call.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the CT2 folder holds tokenizer.json: nothing to fetch


def reply(obj):
    sys.stdout.write("@@" + json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    opts = json.loads(sys.argv[1])
    try:
        t0 = time.perf_counter()
        import numpy as np
        import ctranslate2
        import faster_whisper
        from faster_whisper import BatchedInferencePipeline, WhisperModel
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        model = WhisperModel(opts["ct2Dir"], device="cpu", compute_type="int8",
                             cpu_threads=opts["threads"], num_workers=1)
        pipeline = BatchedInferencePipeline(model=model)
        reply({"ready": True, "loadSeconds": time.perf_counter() - t0, "version": faster_whisper.__version__,
               "ct2Version": ctranslate2.__version__})
    except Exception as e:  # noqa: BLE001 - reported in the bench row
        reply({"error": f"{type(e).__name__}: {e}"})
        return 1

    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        try:
            audio = np.fromfile(cmd[5:], dtype="<f4")
            s = time.perf_counter()
            segments, _info = pipeline.transcribe(
                audio, language=opts.get("language") or "en", task="transcribe", beam_size=1, best_of=1,
                temperature=0.0, condition_on_previous_text=False, vad_filter=True, word_timestamps=False,
                batch_size=opts.get("batchSize", 8))
            segs = list(segments)  # the generator does the work
            seconds = time.perf_counter() - s
            v = time.perf_counter()
            get_speech_timestamps(audio, VadOptions())
            vad_seconds = time.perf_counter() - v
            reply({"seconds": seconds, "vadSeconds": vad_seconds, "segments": len(segs),
                   "text": " ".join(seg.text.strip() for seg in segs)})
        except Exception as e:  # noqa: BLE001
            reply({"error": f"{type(e).__name__}: {e}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
