/**
 * audio/silero-vad.ts, whose frame loop the worker runs, also has the service's `sileroModelPath`
 * (Node's `require.resolve`); the page never calls it (the worker fetches /edge/vad/ instead), but its
 * types are checked with the page's (DOM, no Node) lib.
 */
declare const require: { resolve(id: string): string };
