/** Entry point: inference on `transcribe-cpu`. */
import { runInferenceEntry } from './main';

runInferenceEntry('cpu');
