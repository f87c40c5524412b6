/**
 * The wasm backend's convolution kernels run by oneDNN, in place, on the wasm heap: `Conv2D`,
 * `FusedConv2D` (bias, no activation), `Conv2DBackpropInput` and `Conv2DBackpropFilter`. Each
 * falls back to the kernel it replaces for what it does not cover (NCHW, dilation, activations,
 * shapes oneDNN refuses). 2 to 4x the wasm kernels per core on resnet-small's shapes
 * (BENCHMARKS.md): oneDNN has AVX-512 code, wasm SIMD is 128 bits wide.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import type { WasmBackendInternals } from "../kernels/heap.ts";
import { conv2dBackpropFilterConfig } from "../kernels/conv2d_backprop_filter.ts";
import { conv2dBackpropInputConfig } from "../kernels/conv2d_backprop_input.ts";
import { Convolutions, type ConvolutionShape, type Propagation } from "./convolution.ts";
import type { OneDnn } from "./library.ts";
import { batchMatMulOneDnnConfig } from "./mat_mul.ts";
import { reluGradConfig } from "./relu.ts";
import { batchMatMulConfig } from "../kernels/batch_mat_mul.ts";

type ConvAttrs = {
  strides: [number, number] | number;
  pad: tf.backend_util.ExplicitPadding | "valid" | "same" | number;
  dataFormat: "NHWC" | "NCHW";
  dilations?: [number, number] | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
};

/**
 * Kernel configs for the wasm backend running convolutions through `dnn`, each with the kernel
 * it replaces as its fallback. Call after the wasm backend registered its own kernels.
 */
export function oneDnnKernelConfigs(dnn: OneDnn): tf.KernelConfig[] {
  const convolutions = new Convolutions(dnn);
  const stockConv = stockKernel(tf.Conv2D);
  const stockFused = stockKernel(tf.FusedConv2D);

  /** Run on the heap, or null when oneDNN does not cover it (the caller falls back). */
  const onHeap = (
    propagation: Propagation,
    backend: WasmBackendInternals,
    shape: ConvolutionShape | null,
    inputs: { x: tf.TensorInfo; w: tf.TensorInfo; y: tf.TensorInfo; bias?: tf.TensorInfo },
    output: "x" | "w" | "y",
  ): tf.TensorInfo | null => {
    if (shape === null) return null;
    const out = inputs[output];
    // makeOutput may grow the heap (a new buffer): the views are taken after it.
    const heap = backend.wasm.HEAPU8.buffer;
    const at = (info: tf.TensorInfo) =>
      new Uint8Array(
        heap,
        backend.dataIdMap.get(info.dataId).memoryOffset,
        4 * info.shape.reduce((a, b) => a * b, 1),
      );
    const done = convolutions.run(propagation, shape, {
      x: at(inputs.x),
      w: at(inputs.w),
      y: at(inputs.y),
      bias: inputs.bias === undefined ? undefined : at(inputs.bias),
    });
    if (done) return out;
    (backend as unknown as tf.KernelBackend).disposeData(out.dataId);
    return null;
  };

  const forward = (args: Parameters<tf.KernelFunc>[0], stock: tf.KernelConfig): tf.TensorInfo => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<
      string,
      tf.TensorInfo | undefined
    >;
    const attrs = args.attrs as unknown as ConvAttrs & { activation?: string };
    const backend = args.backend as unknown as WasmBackendInternals;
    const covered = (attrs.activation ?? "linear") === "linear" &&
      preluActivationWeights == null && (bias == null || bias.shape.length === 1);
    const shape = covered ? convolutionShape(x!.shape, filter!.shape, attrs) : null;
    if (shape !== null) {
      const y = backend.makeOutput(
        [shape.batch, shape.outHeight, shape.outWidth, shape.outChannels],
        "float32",
      );
      const result = onHeap("forward", backend, shape, {
        x: x!,
        w: filter!,
        y,
        bias: bias ?? undefined,
      }, "y");
      if (result !== null) return result;
    }
    return stock.kernelFunc(args) as tf.TensorInfo;
  };

  return [
    reluGradConfig(dnn),
    batchMatMulOneDnnConfig(dnn, batchMatMulConfig),
    {
      kernelName: tf.Conv2D,
      backendName: "wasm",
      setupFunc: stockConv.setupFunc,
      kernelFunc: (args) => forward(args, stockConv),
    },
    {
      kernelName: tf.FusedConv2D,
      backendName: "wasm",
      setupFunc: stockFused.setupFunc,
      kernelFunc: (args) => forward(args, stockFused),
    },
    {
      kernelName: tf.Conv2DBackpropInput,
      backendName: "wasm",
      kernelFunc: (args) => {
        const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
        const attrs = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
        const backend = args.backend as unknown as WasmBackendInternals;
        const shape = convolutionShape(attrs.inputShape, filter.shape, attrs);
        if (shape !== null && dy.dtype === "float32") {
          const dx = backend.makeOutput(attrs.inputShape, "float32");
          const result = onHeap("backwardData", backend, shape, { x: dx, w: filter, y: dy }, "x");
          if (result !== null) return result;
        }
        return conv2dBackpropInputConfig.kernelFunc(args) as tf.TensorInfo;
      },
    },
    {
      kernelName: tf.Conv2DBackpropFilter,
      backendName: "wasm",
      kernelFunc: (args) => {
        const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
        const attrs = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
        const backend = args.backend as unknown as WasmBackendInternals;
        const shape = convolutionShape(x.shape, attrs.filterShape, attrs);
        if (shape !== null && dy.dtype === "float32") {
          const dw = backend.makeOutput(attrs.filterShape, "float32");
          const result = onHeap("backwardWeights", backend, shape, { x, w: dw, y: dy }, "w");
          if (result !== null) return result;
        }
        return conv2dBackpropFilterConfig.kernelFunc(args) as tf.TensorInfo;
      },
    },
  ];
}

/**
 * The geometry of an NHWC float convolution without dilation, or null for what these kernels
 * leave to the fallback.
 */
export function convolutionShape(
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
): ConvolutionShape | null {
  if (attrs.dataFormat === "NCHW" || xShape.length !== 4 || filterShape.length !== 4) return null;
  const dilations = attrs.dilations ?? 1;
  if (!(dilations === 1 || (Array.isArray(dilations) && dilations.every((d) => d === 1)))) {
    return null;
  }
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  const shape: ConvolutionShape = {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padBottom: info.padInfo.bottom,
    padLeft: info.padInfo.left,
    padRight: info.padInfo.right,
  };
  return Object.values(shape).every((v) => Number.isInteger(v) && v >= 0) &&
      shape.batch * shape.outHeight * shape.outWidth * shape.outChannels * shape.inChannels > 0
    ? shape
    : null;
}

function stockKernel(name: string): tf.KernelConfig {
  const stock = tf.getKernel(name, "wasm");
  if (stock == null) {
    throw new Error(`Cannot replace ${name} for wasm: the stock kernel is not registered`);
  }
  return stock;
}
