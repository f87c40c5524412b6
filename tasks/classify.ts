/**
 * `deno task classify`: the cluster of each image file, printed as one JSON line per file in the
 * order given, or `{path, error}` for a file that cannot be classified. Bad files do not change
 * the exit code (0); only a run that cannot be loaded, or a service that cannot be reached,
 * does (1).
 *
 * - `--run RUN`: offline, with a trained run's final model: `{path, cluster, confidence}`.
 * - `--nats URL --name NAME`: asks a running pipeline's `classify` service (its embed workers):
 *   `{path, cluster, confidence, modelVersion, checkpoint}`.
 */
import { parseArgs } from "node:util";
import { lastValueFrom, tap } from "rxjs";
import { classifyFiles } from "../src/run/classify_files.ts";
import { loadRun } from "../src/run/load_run.ts";
import { BusError } from "../src/transport/bus.ts";
import {
  CLASSIFY_MAX_BYTES,
  isPerFileError,
  requestClassification,
} from "../src/transport/classify_protocol.ts";
import {
  optionalNumber,
  pipelineNameFlag,
  printJson,
  required,
  runTask,
  selectBackend,
  UsageError,
} from "./_cli.ts";
import type { NatsAuthFlags } from "../src/transport/nats_auth.ts";
import { connectNats, NATS_CREDENTIALS_USAGE, NATS_FLAGS } from "./_nats_cli.ts";

const USAGE = `usage: deno task classify --run RUN [--batch-size N] [--backend wasm|cpu|tensorflow]
    FILE...
       deno task classify --nats URL [--name NAME] [--timeout SECONDS] FILE...
    [--nats-creds FILE | --nats-user U --nats-pass P | --nats-token T]

  RUN: a run directory written by \`deno task train\`.
  URL, NAME: a running pipeline (deno task worker / stream) whose classify service answers.
  FILE: PNG, JPEG or GIF images; others are reported with the reason and skipped. With --nats,
        at most ${CLASSIFY_MAX_BYTES} bytes each.
${NATS_CREDENTIALS_USAGE}`;

await runTask(USAGE, async () => {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      run: { type: "string" },
      ...NATS_FLAGS,
      name: { type: "string" },
      timeout: { type: "string" },
      "batch-size": { type: "string" },
      backend: { type: "string" },
    },
  });
  if (positionals.length === 0) throw new UsageError("at least one FILE is required");
  if (values.nats !== undefined) {
    if (values.run !== undefined) throw new UsageError("--run and --nats exclude each other");
    await classifyRemote(values.nats, values.name, values.timeout, values, positionals);
    return;
  }
  const runDir = required(values.run, "--run");
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

/** One request per file, in order; a file the service refuses is a line, not a failure. */
async function classifyRemote(
  url: string,
  nameFlag: string | undefined,
  timeout: string | undefined,
  credentials: NatsAuthFlags,
  paths: readonly string[],
): Promise<void> {
  const name = pipelineNameFlag(nameFlag);
  const seconds = optionalNumber(timeout, "--timeout") ?? 10;
  if (!(seconds > 0)) {
    throw new UsageError(`--timeout must be positive, current value is ${seconds}`);
  }
  const bus = await connectNats(url, name, credentials);
  try {
    for (const path of paths) {
      let bytes: Uint8Array;
      try {
        const info = await Deno.stat(path);
        if (!info.isFile) throw new Error(`Cannot classify ${path}: it is not a regular file`);
        if (info.size > CLASSIFY_MAX_BYTES) {
          throw new RangeError(
            `Cannot classify: a request holds at most ${CLASSIFY_MAX_BYTES} bytes, current ` +
              `size is ${info.size}`,
          );
        }
        bytes = await Deno.readFile(path);
        printJson({ path, ...await requestClassification(bus, name, bytes, seconds * 1000) });
      } catch (error) {
        const perFile = isPerFileError(error) || !(error instanceof BusError);
        if (!perFile) throw error;
        printJson({ path, error: (error as Error).message });
      }
    }
  } finally {
    await bus.close();
  }
}
