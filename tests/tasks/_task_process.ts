/**
 * A task script in a subprocess, as `deno task <task>` runs it (its deno.json permissions),
 * with stdout collected line by line and stderr kept for failure messages.
 */
import { taskPermissions, taskScript } from "../run/_tiny_run.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A running task. */
export interface TaskProcess {
  readonly lines: string[];
  stderr(): string;
  /** SIGTERM (or `signal`), then the exit code; harmless after it exited. */
  stop(signal?: Deno.Signal): Promise<number>;
  readonly status: Promise<Deno.CommandStatus>;
}

export async function spawnTask(task: string, args: string[]): Promise<TaskProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(await taskPermissions(task)), await taskScript(task), ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let stderr = "";
  const decoder = new TextDecoder();
  const reading = Promise.all([
    (async () => {
      let rest = "";
      for await (const chunk of child.stdout) {
        const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = parts.pop()!;
        lines.push(...parts);
      }
      if (rest !== "") lines.push(rest);
    })(),
    (async () => {
      for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
    })(),
  ]);
  return {
    lines,
    stderr: () => stderr,
    status: child.status,
    async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
      const { code } = await child.status;
      await reading;
      return code;
    },
  };
}

/** A JSON file parsed, or undefined while it does not exist. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Poll `probe` until it gives a value; after `timeoutMs` fail with `what` and the end of the
 * task's stderr.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  stderr: () => string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}. Stream stderr:\n${stderr().slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
