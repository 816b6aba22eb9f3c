// Entry of the VAD worker thread when the code runs from TypeScript sources (tsx, Jest); see
// engine/thread-boot.js for why the thread registers tsx's CommonJS hook itself.
require('tsx/cjs');
require('./vad-thread.ts');
