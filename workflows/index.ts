export { transcriptionWorkflow, statusQuery, cancelSignal } from './transcription';
export { webhookDeliveryWorkflow } from './webhook';
export { liveTranscriptionWorkflow } from './live';
export { chunkGroupWorkflow } from './chunks';
export { audioRetentionWorkflow } from './retention';
