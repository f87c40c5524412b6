/**
 * The same step in PyTorch (tools/torch_step.py), for `deno task bench --compare`: run it before
 * and after the wasm measurement at each thread count, so load that changes during the run shows
 * as a range rather than as a wrong ratio.
 */
import type { BackboneConfig } from "../src/models/resnet.ts";

export const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("./torch_step.py", import.meta.url).pathname;

/** One run of tools/torch_step.py, as it prints it. */
export interface TorchRun {
  framework: string;
  threads: number;
  batch: number;
  inputSize: number;
  iters: number;
  backboneParams: number;
  headParams: number;
  forwardImagesPerSecond: number;
  forwardMsPerBatch: number;
  trainPairsPerSecond: number;
  trainMsPerStep: number;
}

/** Why PyTorch cannot be compared against here, or undefined when it can. */
export async function torchUnavailable(): Promise<string | undefined> {
  try {
    const { success, stderr } = await new Deno.Command(PYTHON, {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (success) return undefined;
    const last = new TextDecoder().decode(stderr).trim().split("\n").at(-1);
    return `${PYTHON} cannot import torch (${last})`;
  } catch (error) {
    return `${PYTHON} cannot be run (${(error as Error).message})`;
  }
}

/** Run the PyTorch step once at `threads` threads on the same network, batch and input size. */
export async function runTorch(
  config: BackboneConfig,
  batch: number,
  iters: number,
  threads: number,
): Promise<TorchRun> {
  const args = [
    SCRIPT,
    "--threads",
    String(threads),
    "--batch",
    String(batch),
    "--size",
    String(config.inputSize),
    "--iters",
    String(iters),
    "--widths",
    config.widths.join(","),
    "--blocks",
    config.blocks.join(","),
  ];
  const { success, code, stdout, stderr } = await new Deno.Command(PYTHON, {
    args,
    // One thread means one: keep OpenMP and MKL from starting their own pools beside torch's.
    env: { OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout).trim();
  if (!success) {
    throw new Error(
      `Cannot run the PyTorch step: ${PYTHON} ${args.join(" ")} exited with ${code}: ` +
        new TextDecoder().decode(stderr).trim().split("\n").slice(-3).join(" | "),
    );
  }
  return JSON.parse(text.split("\n").at(-1)!) as TorchRun;
}

/** Lowest and highest of some figures. */
export type Range = [number, number];

export function range(values: number[]): Range {
  return [Math.min(...values), Math.max(...values)];
}

/** wasm over each end of a PyTorch range: [against the fastest, against the slowest]. */
export function ratio(wasm: number, torch: Range): Range {
  return [round(wasm / torch[1]), round(wasm / torch[0])];
}

function round(value: number): number {
  return Number(value.toPrecision(3));
}
