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
import { ensureNativeInstalled, loadNative } from "./native.ts";

/** The backends a user can choose. */
export type BackendName = "wasm" | "cpu" | "tensorflow";

export const BACKENDS: readonly BackendName[] = ["wasm", "cpu", "tensorflow"];

/**
 * Check, on the main thread before any worker starts, that `name` can be selected, so a missing
 * native package is reported once rather than once per thread. Loads nothing: wasm and cpu are
 * always there; for `tensorflow` it looks for an installed tfjs-node-gpu or tfjs-node.
 *
 * @throws {Error} one line naming what is missing and the command that installs it.
 */
export async function ensureBackendAvailable(name: BackendName): Promise<void> {
  checkName(name);
  if (name === "tensorflow") await ensureNativeInstalled();
}

/**
 * Select and initialise a backend; resolves to the name tfjs reports. Safe to call again, and
 * from a Worker (a training worker calls it with the name from its init message; every worker
 * loads its own wasm instance or native addon).
 *
 * @throws {Error} for `tensorflow` when neither tfjs-node-gpu nor tfjs-node is installed, with
 *   the same message as {@link ensureBackendAvailable}.
 */
export async function initBackend(name: BackendName = "wasm"): Promise<string> {
  checkName(name);
  tf.enableProdMode();
  if (name === "tensorflow") await loadNative();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`Cannot select backend ${name}: tfjs failed to initialise it`);
  await tf.ready();
  if (name === "wasm") registerWasmKernels();
  return tf.getBackend();
}

function checkName(name: BackendName): void {
  if (!BACKENDS.includes(name)) {
    throw new RangeError(
      `Cannot select backend: must be one of ${BACKENDS.join(", ")}, current value is ${name}`,
    );
  }
}
