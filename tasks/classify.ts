/**
 * `deno task classify`: the cluster of each image file under a trained run's final model. Prints
 * one JSON line per file, in the order given: `{path, cluster, confidence}`, or `{path, error}`
 * for a file that cannot be read or decoded. Bad files do not change the exit code (0); only a
 * run that cannot be loaded does (1).
 */
import { parseArgs } from "node:util";
import { lastValueFrom, tap } from "rxjs";
import { classifyFiles } from "../src/run/classify_files.ts";
import { loadRun } from "../src/run/load_run.ts";
import { optionalNumber, printJson, required, runTask, selectBackend, UsageError } from "./_cli.ts";

const USAGE = `usage: deno task classify --run RUN [--batch-size N] [--backend wasm|cpu|tensorflow]
    FILE...

  RUN: a run directory written by \`deno task train\`.
  FILE: PNG, JPEG or GIF images; others are reported with the reason and skipped.`;

await runTask(USAGE, async () => {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      run: { type: "string" },
      "batch-size": { type: "string" },
      backend: { type: "string" },
    },
  });
  const runDir = required(values.run, "--run");
  if (positionals.length === 0) throw new UsageError("at least one FILE is required");
  const batchSize = optionalNumber(values["batch-size"], "--batch-size") ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError(`--batch-size must be a positive integer, current value is ${batchSize}`);
  }
  await selectBackend(values.backend);
  const run = await loadRun(runDir);
  try {
    await lastValueFrom(classifyFiles(run, positionals, batchSize).pipe(tap(printJson)), {
      defaultValue: undefined,
    });
  } finally {
    run.dispose();
  }
});
