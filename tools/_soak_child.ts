/**
 * For `deno task soak --hostile`: the stream as `deno task stream` runs it, in a child process,
 * so that the soak can SIGKILL it and start it again on the same `--state`. The child is run as
 * `deno run <the stream task's permissions from deno.json> tasks/stream.ts ...` rather than
 * through `deno task`, whose runner would take the SIGKILL and leave the stream running.
 *
 * The supervisor tells a kill it did from a crash: an exit it did not ask for counts as a crash,
 * is logged with the end of the child's stderr, and the stream is started again (so that the
 * soak can still count what was lost).
 */
import { logLine } from "../src/util/progress.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/** Kept of each child's stderr, for the log line of a crash. */
const STDERR_TAIL = 4000;

/** The `--allow-*` flags of deno.json task `task`. */
export async function taskPermissions(task: string): Promise<string[]> {
  const deno = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
    tasks: Record<string, string>;
  };
  const command = deno.tasks[task];
  if (command === undefined) throw new Error(`deno.json has no task ${task}`);
  return command.split(/\s+/).filter((word) => word.startsWith("--allow-"));
}

/** One child process of `tasks/stream.ts`. */
interface Child {
  readonly process: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  stderr: string;
  /** Set before a signal the supervisor sends, so its exit is no crash. */
  expected: boolean;
}

/** What the supervisor did, for the soak's figures. */
export interface SupervisorCounts {
  /** Children started (the first one included). */
  starts: number;
  /** SIGKILLs sent by the soak. */
  kills: number;
  /** Exits nobody asked for. */
  crashes: number;
}

/** A stream run as a child process, restarted after a kill or a crash. */
export class StreamSupervisor {
  readonly counts: SupervisorCounts = { starts: 0, kills: 0, crashes: 0 };
  readonly #args: string[];
  readonly #env: Record<string, string>;
  #child: Child | undefined;
  #stopping = false;

  private constructor(args: string[], env: Record<string, string>) {
    this.#args = args;
    this.#env = env;
  }

  /**
   * Start `tasks/stream.ts` with `args`; `env` is added to the soak's environment (the NATS
   * credential travels there, not on the command line).
   */
  static async start(args: string[], env: Record<string, string>): Promise<StreamSupervisor> {
    const permissions = await taskPermissions("stream");
    const supervisor = new StreamSupervisor(
      ["run", ...permissions, "tasks/stream.ts", ...args],
      env,
    );
    supervisor.#spawn();
    return supervisor;
  }

  /** The pid of the running child. */
  get pid(): number | undefined {
    return this.#child?.process.pid;
  }

  /**
   * SIGKILL the child (mid-whatever it does), wait for it to go, run `whileDead`, and start it
   * again with the same arguments (the same `--state`).
   */
  async kill(whileDead?: () => Promise<void>): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.expected = true;
    try {
      child.process.kill("SIGKILL");
    } catch {
      // Already gone: the crash handler has seen (or will see) it.
    }
    await child.status;
    this.counts.kills++;
    await whileDead?.();
    if (this.#child === child && !this.#stopping) this.#spawn();
  }

  /**
   * Stop for good: SIGTERM (the stream drains and saves its state), and its exit code; a code
   * other than 0 counts as a crash.
   */
  async stop(): Promise<number> {
    this.#stopping = true;
    const child = this.#child;
    if (child === undefined) return 0;
    child.expected = true;
    try {
      child.process.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    const status = await child.status;
    if (status.code !== 0) {
      this.counts.crashes++;
      logLine(
        `soak: the stream exited with ${status.code} on SIGTERM; its stderr ended:\n${
          child.stderr.slice(-STDERR_TAIL)
        }`,
      );
    }
    return status.code;
  }

  /** The end of the running child's stderr. */
  stderrTail(): string {
    return this.#child?.stderr.slice(-STDERR_TAIL) ?? "";
  }

  #spawn(): void {
    // `deno` from PATH, as `deno task` runs it (the soak may run only that one: deno.json).
    const process = new Deno.Command("deno", {
      args: this.#args,
      cwd: ROOT,
      env: this.#env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.counts.starts++;
    const child: Child = { process, status: process.status, stderr: "", expected: false };
    this.#child = child;
    const decoder = new TextDecoder();
    (async () => {
      for await (const chunk of process.stderr) {
        child.stderr = (child.stderr + decoder.decode(chunk, { stream: true })).slice(
          -2 * STDERR_TAIL,
        );
      }
    })().catch(() => {});
    child.status.then((status) => {
      if (child.expected || this.#stopping) return;
      this.counts.crashes++;
      logLine(
        `soak: the stream exited by itself (code ${status.code}, signal ${
          status.signal ?? "none"
        }); restarting it. Its stderr ended:\n${child.stderr.slice(-STDERR_TAIL)}`,
      );
      if (this.#child === child) this.#spawn();
    });
  }
}
