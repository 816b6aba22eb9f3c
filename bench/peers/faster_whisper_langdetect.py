"""faster-whisper 1.1.0 language identification on the set of bench/language-set.ts, for bench/language-detect.ts.
Run with the venv made by bench/setup-peers.sh.

usage: python faster_whisper_langdetect.py CT2_DIR SET_DIR THREADS > out.jsonl
For every clip of SET_DIR/manifest.json, one JSON line {"file", "runs": {name: [language, probability]}} with the runs:
- "fw":       WhisperModel.detect_language(audio) (transcribe.py 1.1.0 l.1713): log-mel of the clip (feature_extractor.py,
              the clip padded by 160 zero samples, normalised by its own max), the first 3000 frames padded *in the
              mel domain* with 0.0 (audio.py pad_or_trim), CTranslate2 detect_language. This is also what
              `transcribe(...)` without `language` reports as info.language for a clip under 30 s (l.861-890).
- "fw-vad":   the same with vad_filter=True: Silero VAD speech only, laid end to end (BatchedInferencePipeline
              detects on its VAD chunks' features the same way, transcribe.py l.426-450).
- "openai":   openai/whisper's rule on the same CT2 weights (whisper/transcribe.py + decoding.py detect_language):
              log-mel of the audio padded with 30 s of *zero samples* (log_mel_spectrogram(audio, padding=N_SAMPLES)),
              its first 3000 frames, normalised by the max over the whole padded audio; the language logits at
              the SOT position, softmax over the language tokens (CTranslate2 detect_language does the same).
- "fw-fp32":  "fw" with compute_type float32 (the weights as converted; the CT2 folders hold float16): int8 effects.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    ct2_dir, set_dir, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import numpy as np
    import ctranslate2
    from faster_whisper import WhisperModel, decode_audio

    models = {
        "int8": WhisperModel(ct2_dir, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1),
        "float32": WhisperModel(ct2_dir, device="cpu", compute_type="float32", cpu_threads=threads, num_workers=1),
    }
    fe = models["int8"].feature_extractor
    n_samples = fe.n_samples  # 480000

    def openai_rule(model, audio):
        padded = np.concatenate([audio.astype(np.float32), np.zeros(n_samples, dtype=np.float32)])
        # feature_extractor with padding=0: the log-mel of the padded audio (reflect-centred STFT, last frame
        # dropped, max - 8 floor, (x + 4) / 4), as openai's log_mel_spectrogram(audio, padding=N_SAMPLES)
        mel = fe(padded, padding=0)[:, :3000]
        enc = model.encode(np.ascontiguousarray(mel, dtype=np.float32))
        top = model.model.detect_language(enc)[0][0]
        return [top[0][2:-2], float(top[1])]

    clips = json.load(open(os.path.join(set_dir, "manifest.json")))
    for clip in clips:
        audio = decode_audio(os.path.join(set_dir, clip["file"]), sampling_rate=16000)
        runs = {}
        lang, prob, _ = models["int8"].detect_language(audio)
        runs["fw"] = [lang, float(prob)]
        lang, prob, _ = models["int8"].detect_language(audio, vad_filter=True)
        runs["fw-vad"] = [lang, float(prob)]
        runs["openai"] = openai_rule(models["int8"], audio)
        lang, prob, _ = models["float32"].detect_language(audio)
        runs["fw-fp32"] = [lang, float(prob)]
        print(json.dumps({"file": clip["file"], "runs": runs}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
