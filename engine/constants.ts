/**
 * Whisper model constants, named as in openai/whisper `whisper/audio.py` (and mirrored by HF
 * `WhisperFeatureExtractor` / `preprocessor_config.json`). Every Whisper checkpoint up to large-v2
 * shares these values; large-v3 differs only in N_MELS (128), which callers pass explicitly.
 *
 * Browser-safe: this module has no Node imports.
 */

/** Audio sample rate Whisper was trained on, in Hz (audio.py `SAMPLE_RATE`). */
export const SAMPLE_RATE = 16000;

/** STFT frame length and FFT size, in samples: 25 ms at 16 kHz (audio.py `N_FFT`). */
export const N_FFT = 400;

/** STFT hop between consecutive frames, in samples: 10 ms at 16 kHz (audio.py `HOP_LENGTH`). */
export const HOP_LENGTH = 160;

/** Log-mel frames per second: SAMPLE_RATE / HOP_LENGTH = 100 (audio.py `FRAMES_PER_SECOND`; transcribe.py's `seek` unit). */
export const FRAMES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH;

/** Mel bands of the log-mel input for all models but large-v3 (audio.py `log_mel_spectrogram(n_mels=80)`). */
export const N_MELS = 80;

/** Length of one encoder window, in seconds (audio.py `CHUNK_LENGTH`). */
export const CHUNK_LENGTH_S = 30;

/** Samples in one 30 s window: CHUNK_LENGTH_S * SAMPLE_RATE = 480000 (audio.py `N_SAMPLES`). */
export const N_SAMPLES = CHUNK_LENGTH_S * SAMPLE_RATE;

/** Log-mel frames in one window: N_SAMPLES / HOP_LENGTH = 3000 (audio.py `N_FRAMES`). */
export const N_FRAMES = N_SAMPLES / HOP_LENGTH;

/** Number of one-sided FFT bins: N_FFT / 2 + 1 = 201 (rows of `stft` in audio.py `log_mel_spectrogram`). */
export const N_FREQ_BINS = N_FFT / 2 + 1;

/**
 * Mel frames per encoder output position: the encoder's second convolution has stride 2
 * (audio.py `N_SAMPLES_PER_TOKEN = HOP_LENGTH * 2`).
 */
export const FRAMES_PER_ENCODER_TOKEN = 2;

/**
 * Seconds per timestamp token step, one encoder position: HOP_LENGTH * 2 / SAMPLE_RATE = 0.02 s
 * (audio.py `1 / TOKENS_PER_SECOND`; transcribe.py `time_precision`; the `<|0.02|>` token spacing).
 */
export const TIME_PER_TIMESTAMP_S = (HOP_LENGTH * FRAMES_PER_ENCODER_TOKEN) / SAMPLE_RATE;

/** Encoder output positions per 30 s window: N_FRAMES / 2 = 1500 (model dims `n_audio_ctx`). */
export const N_AUDIO_CTX = N_FRAMES / FRAMES_PER_ENCODER_TOKEN;

/**
 * Lowest mel filter edge, in Hz: librosa.filters.mel default `fmin=0.0`, used for `mel_filters.npz`
 * (HF passes `min_frequency=0.0`).
 */
export const MEL_FMIN_HZ = 0;

/** Highest mel filter edge, in Hz: librosa default `fmax = sr / 2` = 8000 (HF passes `max_frequency=8000.0`). */
export const MEL_FMAX_HZ = SAMPLE_RATE / 2;

/**
 * Floor applied to mel power before log10, so silence gives log10(1e-10) = -10 instead of -Infinity
 * (audio.py `mel_spec.clamp(min=1e-10)`, HF `spectrogram(mel_floor=1e-10)`).
 */
export const LOG_MEL_FLOOR = 1e-10;

/**
 * Dynamic range kept below the window's loudest log-mel value, in log10 units (= 80 dB):
 * audio.py `torch.maximum(log_spec, log_spec.max() - 8.0)`.
 */
export const LOG_MEL_DYNAMIC_RANGE = 8.0;

/** Offset added before scaling, audio.py `(log_spec + 4.0) / 4.0`: maps the usual range to about [-1, 1]. */
export const LOG_MEL_OFFSET = 4.0;

/** Divisor applied after the offset, audio.py `(log_spec + 4.0) / 4.0`. */
export const LOG_MEL_SCALE = 4.0;
