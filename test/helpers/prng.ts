/** Tests build their "random" inputs with the engine's deterministic PRNG (the same on every run). */
export { mulberry32 } from '../../engine/prng';
