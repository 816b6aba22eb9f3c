// Entry of the engine worker thread when the code runs from TypeScript sources (tsx, Jest).
// A worker thread does not inherit Jest's transformer, and Node 20 does not apply `--import` loaders
// to workers reliably, so the thread registers tsx's CommonJS hook itself before loading thread.ts.
require('tsx/cjs');
require('./thread.ts');
