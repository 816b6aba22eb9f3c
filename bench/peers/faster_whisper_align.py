"""faster-whisper's word alignment of OUR windows, for bench/words-align.ts (run with the venv of bench/setup-peers.sh).

usage: python faster_whisper_align.py '{"ct2Dir":…,"threads":2,"computeType":"int8","files":[{"name":…,"pcm":…,
  "windows":[{"start":samples,"length":samples,"tokens":[text token ids]}]}]}'
For each window: faster-whisper 1.1.0's features of the whole file cut at the window (generate_segments: seek in mel
frames, segment_size = min(3000, content_frames - seek, window)), its encoder, then WhisperModel.find_alignment (CTranslate2
`align`, openai's DTW) on the same text tokens; prints one JSON line per file:
{"name", "windows": [[{"word", "start", "end"}] (window-relative seconds, before add_word_timestamps' heuristics)]}.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    opts = json.loads(sys.argv[1])
    import numpy as np
    from faster_whisper import WhisperModel
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    model = WhisperModel(opts["ct2Dir"], device="cpu", compute_type=opts.get("computeType", "int8"),
                         cpu_threads=opts["threads"], num_workers=1)
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
    for f in opts["files"]:
        audio = np.fromfile(f["pcm"], dtype="<f4")
        features = model.feature_extractor(audio)
        content_frames = features.shape[-1] - 1
        out = []
        for w in f["windows"]:
            seek = w["start"] // 160
            size = min(3000, content_frames - seek, w["length"] // 160)
            encoder_output = model.encode(pad_or_trim(features[:, seek:seek + size]))
            alignment = model.find_alignment(tokenizer, [w["tokens"]], encoder_output, size)[0]
            out.append([{"word": a["word"], "start": float(a["start"]), "end": float(a["end"])} for a in alignment])
        sys.stdout.write(json.dumps({"name": f["name"], "windows": out}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
