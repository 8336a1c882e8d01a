import type { TensorData, WireTensor } from './protocol.js';

/**
 * A tensor as the server thread builds and reads it: a typed array with its element type and
 * shape, nothing else. The server thread never needs onnxruntime itself (the sessions live on
 * worker threads, which turn these into onnxruntime tensors), and importing onnxruntime-node
 * there would map its native library into the process for a constructor.
 */
export class Tensor implements WireTensor {
  constructor(
    readonly type: string,
    readonly data: TensorData,
    readonly dims: readonly number[],
  ) {
    // The same check onnxruntime's constructor makes, here so that a wrong shape fails in the
    // caller's stack rather than as "inference failed" from the worker.
    const size = dims.reduce((product, d) => product * d, 1);
    if (size !== data.length) throw new RangeError(`tensor data length ${data.length} does not match dims [${dims.join(', ')}]`);
  }
}
