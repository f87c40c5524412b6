/**
 * Adapts a function of tensors into a backend kernel, so kernels missing from (or slow on) a
 * backend can be written with tf ops that the backend already runs well.
 */
import * as tf from "@tensorflow/tfjs-core";

/** A kernel body written with tf ops; `inputs` are keyed as the kernel names them. */
export type TensorKernelBody = (
  inputs: Record<string, tf.Tensor>,
  attrs: tf.NamedAttrMap,
) => tf.Tensor;

/**
 * Wrap `body` as a `KernelFunc`. The engine already stops taping while a kernel runs, so the ops
 * inside record no gradients of their own; what needs care is ownership. The engine hands in
 * bare TensorInfos (whose data it owns) and adopts the returned TensorInfo without taking a
 * reference, so each input is wrapped in a tensor holding its own reference, and the result's
 * reference is passed from its tensor to the caller before that tensor is disposed.
 */
export function tensorKernel(body: TensorKernelBody): tf.KernelFunc {
  return ({ inputs, backend: untyped, attrs }) => {
    const backend = untyped as tf.KernelBackend;
    const engine = tf.engine();
    const result = tf.tidy(() => {
      const tensors: Record<string, tf.Tensor> = {};
      for (const [name, info] of Object.entries(inputs)) {
        if (info == null) continue;
        backend.incRef(info.dataId);
        tensors[name] = engine.makeTensorFromTensorInfo(info, backend);
      }
      return body(tensors, attrs ?? {});
    });
    backend.incRef(result.dataId);
    const output: tf.TensorInfo = {
      dataId: result.dataId,
      shape: result.shape,
      dtype: result.dtype,
    };
    result.dispose();
    return output;
  };
}
