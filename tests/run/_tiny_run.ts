/**
 * A tiny trained run for the tests of what comes after training: 60 shapes fixtures at 16px, a
 * couple of short epochs per stage (about 5 s). Made once per process and removed at unload.
 */
import { join } from "node:path";
import { type OfflineSummary, runOffline } from "../../pipelines/offline.ts";
import { makeConfig, type ScanConfig } from "../../src/config.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { loadDataset } from "../../src/data/load_dataset.ts";

export const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;
export const SHAPES_LABELS = join(SHAPES, "labels.csv");
export const BAD = new URL("../../fixtures/bad", import.meta.url).pathname;
/** Images the tiny run trains on (the first of the sorted shapes fixtures). */
export const TINY_IMAGES = 60;

/** A trained run directory and what made it. */
export interface TinyRun {
  readonly runDir: string;
  readonly config: ScanConfig;
  readonly train: Dataset;
  readonly summary: OfflineSummary;
}

let made: Promise<TinyRun> | undefined;

/** The tiny run; the caller must have selected a backend. */
export function tinyRun(): Promise<TinyRun> {
  made ??= makeTinyRun();
  return made;
}

async function makeTinyRun(): Promise<TinyRun> {
  const root = await Deno.makeTempDir({ prefix: "scanstream_tiny_run_" });
  globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
  // Small SCAN batches give a few steps per epoch, enough to leave more than one cluster.
  const config = makeConfig("fixtures", {
    inputSize: 16,
    heads: 2,
    neighbours: 5,
    pretext: { epochs: 1, batchSize: 30 },
    scan: { epochs: 2, batchSize: 15 },
    selflabel: { epochs: 1, batchSize: 30 },
  });
  const train = await loadDataset(SHAPES, {
    size: config.inputSize,
    labels: SHAPES_LABELS,
    limit: TINY_IMAGES,
  });
  const runDir = join(root, "run");
  const summary = await runOffline({ config, train, runDir });
  return { runDir, config, train, summary };
}

/** The command line of a deno.json task, split into words. */
async function taskWords(task: string): Promise<string[]> {
  const deno = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  const command = deno.tasks[task];
  if (!command) throw new Error(`deno.json has no task ${task}`);
  return command.split(/\s+/);
}

/** The permissions of a deno.json task, e.g. `taskPermissions("eval")`. */
export async function taskPermissions(task: string): Promise<string[]> {
  return (await taskWords(task)).filter((word) => word.startsWith("--allow-"));
}

/**
 * The absolute path of the script a deno.json task runs (`tasks/eval.ts`, `tools/soak.ts`), so a
 * test runs what `deno task` runs wherever the script lives.
 */
export async function taskScript(task: string): Promise<string> {
  const script = (await taskWords(task)).find((word) => word.endsWith(".ts"));
  if (!script) throw new Error(`deno.json task ${task} runs no .ts script`);
  return new URL(`../../${script}`, import.meta.url).pathname;
}

/** Result of running a task script as `deno task` would, with exactly its permissions. */
export interface TaskResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the script of deno.json task `task` in a subprocess with the task's permissions from deno.json. */
export async function runTaskScript(task: string, args: string[]): Promise<TaskResult> {
  const root = new URL("../../", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...(await taskPermissions(task)), await taskScript(task), ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
