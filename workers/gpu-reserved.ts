/** Entry point: inference on `transcribe-gpu-reserved`. */
import { runInferenceEntry } from './main';

runInferenceEntry('gpu-reserved');
