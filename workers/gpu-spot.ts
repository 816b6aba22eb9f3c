/** Entry point: inference on `transcribe-gpu-spot`. */
import { runInferenceEntry } from './main';

runInferenceEntry('gpu-spot');
