/**
 * `Einsum` for the wasm backend, which has no kernel of its own for it (`tf.image.rgbToGrayscale`
 * needs it).
 */
import * as tf from "@tensorflow/tfjs-core";
import { tensorKernel } from "./tensor_kernel.ts";

/**
 * Einstein summation, by the plan tfjs itself uses on the cpu backend: each operand transposed
 * and expanded onto a common axis order, multiplied in, and summed axes reduced as soon as the
 * last operand using them has been multiplied.
 *
 * @param equation e.g. "ij,jk->ik" (explicit output, no ellipsis: tfjs' own limits)
 * @param operands one tensor per term of the equation
 * @returns the tensor the equation describes
 */
export function einsum(equation: string, operands: tf.Tensor[]): tf.Tensor {
  const { backend_util } = tf;
  const { allDims, summedDims, idDims } = backend_util.decodeEinsumEquation(
    equation,
    operands.length,
  );
  backend_util.checkEinsumDimSizes(allDims.length, idDims, operands);
  const { path, steps } = backend_util.getEinsumComputePath(summedDims, idDims);
  return tf.tidy(() => {
    let out: tf.Tensor | null = null;
    let dimsRemaining = allDims.length;
    steps.forEach((terms, step) => {
      for (const term of terms) {
        const { permutationIndices, expandDims } = backend_util.getEinsumPermutation(
          dimsRemaining,
          idDims[term],
        );
        const permuted = backend_util.isIdentityPermutation(permutationIndices)
          ? operands[term]
          : tf.transpose(operands[term], permutationIndices);
        const shape = permuted.shape.slice();
        for (const axis of expandDims) shape.splice(axis, 0, 1);
        const aligned = tf.reshape(permuted, shape);
        out = out === null ? aligned : tf.mul(aligned, out);
      }
      if (step < steps.length - 1) {
        if (path[step] >= 0) {
          out = tf.sum(out!, path[step] - (allDims.length - dimsRemaining));
        }
        dimsRemaining--;
      }
    });
    return out!;
  });
}

/** Kernel config registering {@link einsum} for the wasm backend. */
export const einsumConfig: tf.KernelConfig = {
  kernelName: tf.Einsum,
  backendName: "wasm",
  kernelFunc: tensorKernel((inputs, attrs) =>
    einsum((attrs as unknown as tf.EinsumAttrs).equation, Object.values(inputs))
  ),
};
