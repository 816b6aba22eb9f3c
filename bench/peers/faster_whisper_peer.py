"""faster-whisper peer for bench/engine.ts, bench/eval-wer.ts and bench/pipeline.ts, run with the venv made by
bench/setup-peers.sh.

usage: python faster_whisper_peer.py '{"ct2Dir":…,"pcm":…,"threads":2,"language":"en"}'
Protocol (stdout, one JSON object per line prefixed with "@@"): {"ready":…} after the model is loaded, then for
every "run" line on stdin (the options' "pcm", raw f32le 16 kHz mono) {"seconds":…,"text":…,
"segments":[[start,end,text,language]…],"language":…}; "file PATH" does the same for another raw f32le 16 kHz file
(bench/eval-wer.ts, bench/pipeline.ts); "file PATH LANG" with LANG "-" detects the language instead of the options'
one; "file PATH LANG PROMPT…" gives the rest of the line as `initial_prompt` (bench/eval-wer.ts --sets prompt);
"quit" ends it.
"multilingual": true in the options passes faster-whisper 1.1.0's `multilingual=True` to transcribe() on the files
it detects the language of (LANG "-"): the sequential WhisperModel detects the language of every 30 s window and
decodes the window in it (transcribe.py generate_segments), the BatchedInferencePipeline of every VAD chunk
(generate_segment_batched: the prompt's language token per batch item, no threshold). Each segment's language in
the reply is then the one its window or chunk was decoded in (recorded from CTranslate2's detect_language calls),
else the file's `info.language`.
"batched": true in the options runs faster-whisper's BatchedInferencePipeline (its Silero VAD on, as the pipeline's
default, so both sides include their VAD; "batchSize", default 8) instead of the sequential WhisperModel.transcribe;
with "vadSeconds": true the reply also has "vadSeconds", get_speech_timestamps alone on the same audio, timed once
outside the timed call ("seconds" is then VAD + inference).
Decoding: CTranslate2 int8, greedy (beam_size=1), temperature 0 only (no fallback) unless the options give
"temperatures" (eval-wer passes Whisper's 0.0 … 1.0 with best_of 1, as our engine samples once per temperature),
condition_on_previous_text=False, timestamps on (as our engine) unless "timestamps": false (bench/pipeline.ts: the
batched pipeline's default, without_timestamps=True), word timestamps off, no VAD in the sequential mode,
cpu_threads from the options.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the CT2 folder holds tokenizer.json: nothing to fetch


def reply(obj):
    sys.stdout.write("@@" + json.dumps(obj) + "\n")
    sys.stdout.flush()


class LanguageRecorder:
    """The CTranslate2 Whisper model, unchanged, except that it remembers the top language of each batch item of
    its last detect_language call (faster-whisper calls it per window / per batch with multilingual=True)."""

    def __init__(self, inner):
        self._inner = inner
        self.last = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def detect_language(self, *args, **kwargs):
        results = self._inner.detect_language(*args, **kwargs)
        self.last = [item[0][0][2:-2] for item in results]  # "<|de|>" -> "de"
        return results


def main():
    opts = json.loads(sys.argv[1])
    try:
        t0 = time.perf_counter()
        import numpy as np
        import ctranslate2
        import faster_whisper
        from faster_whisper import WhisperModel
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        model = WhisperModel(opts["ct2Dir"], device="cpu", compute_type="int8",
                             cpu_threads=opts["threads"], num_workers=1)
        recorder = LanguageRecorder(model.model)
        model.model = recorder
        batched = None
        if opts.get("batched"):
            from faster_whisper import BatchedInferencePipeline

            class LabelledBatched(BatchedInferencePipeline):
                """BatchedInferencePipeline that remembers each VAD chunk's decoding language, by the chunk's seek."""

                seek_language = {}

                def forward(self, features, tokenizer, chunks_metadata, options):
                    recorder.last = []
                    out = super().forward(features, tokenizer, chunks_metadata, options)
                    # with multilingual, generate_segment_batched called detect_language once for this batch
                    langs = recorder.last if len(recorder.last) == len(chunks_metadata) else [tokenizer.language_code] * len(chunks_metadata)
                    for segs, lang in zip(out, langs):
                        for seg in segs:
                            self.seek_language[seg["seek"]] = lang
                    return out

            batched = LabelledBatched(model=model)
        audio = np.fromfile(opts["pcm"], dtype="<f4") if opts.get("pcm") else None
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
            parts = cmd.split(" ")
            clip = np.fromfile(parts[1], dtype="<f4") if cmd.startswith("file ") else audio
            language = opts.get("language") or "en"
            if len(parts) > 2:
                language = None if parts[2] == "-" else parts[2]
            initial_prompt = " ".join(parts[3:]) or None
            s = time.perf_counter()
            common = dict(language=language, task="transcribe", beam_size=1, best_of=1,
                          temperature=opts.get("temperatures") or [0.0], condition_on_previous_text=False,
                          word_timestamps=False, without_timestamps=not opts.get("timestamps", True),
                          initial_prompt=initial_prompt)
            multilingual = bool(opts.get("multilingual")) and language is None
            if batched is not None:
                batched.seek_language = {}
                segments, info = batched.transcribe(clip, vad_filter=True, batch_size=opts.get("batchSize", 8),
                                                    multilingual=multilingual, **common)
            else:
                segments, info = model.transcribe(clip, vad_filter=False, multilingual=multilingual, **common)
            segs = []
            for seg in segments:  # the generator does the work
                if not multilingual:
                    lang = info.language
                elif batched is not None:
                    lang = batched.seek_language.get(seg.seek, info.language)
                else:
                    # sequential: the window being decoded is the last one detect_language ran on
                    lang = recorder.last[0] if recorder.last else info.language
                segs.append([seg.start, seg.end, seg.text.strip(), lang])
            out = {"seconds": time.perf_counter() - s, "text": " ".join(x[2] for x in segs), "segments": segs,
                   "language": info.language}
            if opts.get("vadSeconds"):
                v = time.perf_counter()
                get_speech_timestamps(clip, VadOptions())
                out["vadSeconds"] = time.perf_counter() - v
            reply(out)
        except Exception as e:  # noqa: BLE001
            reply({"error": f"{type(e).__name__}: {e}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
