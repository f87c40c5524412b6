/**
 * What every task shares at the edge: usage errors with exit code 2, failures with exit code 1,
 * and the `--backend` choice. Tasks parse their arguments here and nowhere else touches argv.
 */
import { type BackendName, BACKENDS, initBackend } from "../src/backend/backend.ts";
import { validatePipelineName } from "../src/transport/subjects.ts";
import { basename, dirname, join, resolve } from "node:path";
import { logLine } from "../src/util/progress.ts";
import { quote } from "../src/util/quote.ts";

/** A problem with how the task was called: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Run a task's main, mapping errors to exit codes: 0 done, 1 failed, 2 bad usage. */
export async function runTask(usage: string, main: () => Promise<void>): Promise<never> {
  try {
    await main();
    Deno.exit(0);
  } catch (error) {
    if (
      error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      logLine(`error: ${(error as Error).message}\n\n${usage}`);
      Deno.exit(2);
    }
    logLine(`error: ${(error as Error).message}`);
    if (Deno.env.get("SCANSTREAM_DEBUG")) logLine((error as Error).stack ?? "");
    Deno.exit(1);
  }
}

/**
 * A signal this soon after the first is the same Ctrl-C delivered twice: a terminal sends SIGINT
 * to the whole process group, and `deno task` (and npx) forward it to the task once more. Seen
 * with `deno task stream` stopped by a group SIGINT: it exited without saving.
 */
export const REPEATED_SIGNAL_MS = 1000;

/**
 * What a stop signal at `now` means, given when the first one came (`undefined`: none yet):
 * `stop` gracefully, ignore the `same` signal delivered again, or `exit` at once.
 */
export function signalAction(firstAt: number | undefined, now: number): "stop" | "same" | "exit" {
  if (firstAt === undefined) return "stop";
  return now - firstAt < REPEATED_SIGNAL_MS ? "same" : "exit";
}

/**
 * Until the returned function is called, SIGINT or SIGTERM asks `stop` for a graceful end
 * (logging `stopping`); a second signal, later than `REPEATED_SIGNAL_MS` after the first, exits at
 * once with 130 (logging `second`), for when the graceful end hangs.
 */
export function stopOnSignals(
  stop: () => void,
  messages: { readonly stopping: string; readonly second: string },
): () => void {
  let firstAt: number | undefined;
  const onSignal = () => {
    const now = performance.now();
    const action = signalAction(firstAt, now);
    if (action === "same") return;
    if (action === "exit") {
      logLine(messages.second);
      Deno.exit(130);
    }
    firstAt = now;
    logLine(messages.stopping);
    stop();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  return () => {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  };
}

/** Select the compute backend named by `--backend` (default wasm). */
export async function selectBackend(name: string | undefined): Promise<string> {
  const chosen = (name ?? "wasm") as BackendName;
  if (!BACKENDS.includes(chosen)) {
    throw new UsageError(
      `--backend must be one of ${BACKENDS.join(", ")}, current value is ${name}`,
    );
  }
  return await initBackend(chosen);
}

/** A required string flag. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new UsageError(`${flag} is required`);
  return value;
}

/** The pipeline name of `--name` (default `default`), validated. */
export function pipelineNameFlag(value: string | undefined): string {
  const name = value ?? "default";
  try {
    validatePipelineName(name);
  } catch (error) {
    throw new UsageError(`--name: ${(error as Error).message}`);
  }
  return name;
}

/** An optional numeric flag, validated. */
export function optionalNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) {
    throw new UsageError(`${flag} must be a number, current value is ${value}`);
  }
  return n;
}

/**
 * The numeric flags that were given, keyed by the config field each sets: `[field, flag]` pairs,
 * flags without their leading `--`.
 */
export function numericFlags(
  values: Record<string, unknown>,
  pairs: readonly (readonly [string, string])[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, flag] of pairs) {
    const n = optionalNumber(values[flag] as string | undefined, `--${flag}`);
    if (n !== undefined) out[key] = n;
  }
  return out;
}

/** Print one JSON value as a line on stdout. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value));
}

/**
 * Refuse a state directory inside the watched one (or equal to it): the stream would read its
 * own checkpoints as images, and the README promises it never does. Both are compared as real
 * paths (links and `..` resolved); a state folder that does not exist yet is resolved through
 * its nearest existing parent.
 *
 * @throws {UsageError} when `state` lies inside `watch`.
 */
export async function stateOutsideWatch(watch: string, state: string): Promise<void> {
  let realWatch: string;
  try {
    realWatch = await Deno.realPath(watch);
  } catch {
    return; // A missing watch directory is reported by the stream, with its own message.
  }
  const realState = await realPathOfMaybeMissing(state);
  if (realState === realWatch || realState.startsWith(`${realWatch}/`)) {
    throw new UsageError(
      `--state ${quote(state)} is inside the watched directory ${quote(watch)}: ` +
        "the state must live outside it (its files would be read as images)",
    );
  }
}

/** `Deno.realPath` of `path`, or of its nearest existing parent with the rest appended. */
async function realPathOfMaybeMissing(path: string): Promise<string> {
  const rest: string[] = [];
  let current = resolve(path);
  while (true) {
    try {
      return join(await Deno.realPath(current), ...rest);
    } catch {
      const parent = dirname(current);
      if (parent === current) return resolve(path);
      rest.unshift(basename(current));
      current = parent;
    }
  }
}
