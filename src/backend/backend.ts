/**
 * The compute backend: the one place that picks it. `wasm` is the default (SIMD, about 25x the
 * pure-JS `cpu` backend on these machines); `tensorflow` (tfjs-node-gpu, then tfjs-node) is
 * loaded only when asked for, so nothing else depends on it being installed.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
// tfjs-core's node bundle registers no gradients and its ESM files do not load under Deno;
// tfjs-layers' bundle registers all of tfjs-core's into the shared registry. Without it every
// tf.grad fails, whatever the backend.
import "@tensorflow/tfjs-layers";
import { registerWasmKernels } from "./register_wasm_kernels.ts";

/** The backends a user can choose. */
export type BackendName = "wasm" | "cpu" | "tensorflow";

export const BACKENDS: readonly BackendName[] = ["wasm", "cpu", "tensorflow"];

/**
 * Select and initialise a backend; resolves to the name tfjs reports. Safe to call again.
 *
 * @throws {Error} for `tensorflow` when neither tfjs-node-gpu nor tfjs-node is installed.
 */
export async function initBackend(name: BackendName = "wasm"): Promise<string> {
  if (!BACKENDS.includes(name)) {
    throw new RangeError(
      `Cannot select backend: must be one of ${BACKENDS.join(", ")}, current value is ${name}`,
    );
  }
  tf.enableProdMode();
  if (name === "tensorflow") {
    await loadNativeTensorflow();
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`Cannot select backend ${name}: tfjs failed to initialise it`);
  await tf.ready();
  if (name === "wasm") registerWasmKernels();
  return tf.getBackend();
}

async function loadNativeTensorflow(): Promise<void> {
  const errors: string[] = [];
  for (const pkg of ["npm:@tensorflow/tfjs-node-gpu@4.22.0", "npm:@tensorflow/tfjs-node@4.22.0"]) {
    try {
      await import(pkg);
      return;
    } catch (error) {
      errors.push(`${pkg}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(
    "Cannot select backend tensorflow: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node " +
      "could be loaded. Install one where its libtensorflow download is reachable " +
      "(`npm install @tensorflow/tfjs-node-gpu@4.22.0` in this directory), or use --backend wasm. " +
      `Tried: ${errors.join("; ")}`,
    { cause: errors },
  );
}
