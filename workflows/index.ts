export { transcriptionWorkflow, statusQuery, cancelSignal } from './transcription';
