/** Entry point: inference on `transcribe-gpu-ondemand`. */
import { runInferenceEntry } from './main';

runInferenceEntry('gpu-ondemand');
