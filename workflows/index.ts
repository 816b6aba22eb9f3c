export { transcriptionWorkflow, statusQuery } from './transcription';
