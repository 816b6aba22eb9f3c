export { transcriptionWorkflow, statusQuery, cancelSignal } from './transcription';
export { webhookDeliveryWorkflow } from './webhook';
