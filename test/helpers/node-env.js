/**
 * Jest's node environment runs tests in another realm, where `x instanceof Float32Array` fails for
 * arrays made by the host (onnxruntime-node, Buffer). Sharing the host's typed-array constructors
 * fixes it (`new Float32Array()` from onnxruntime-node fails `instanceof` in the test realm without it).
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class HostTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = HostTypedArrayEnvironment;
