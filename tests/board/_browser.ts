/**
 * The board test's handle on a headless Chromium: `_browser_driver.ts` in a subprocess with
 * `--allow-all` (see there why), one command at a time.
 */
import { join } from "node:path";

/** A page in headless Chromium. */
export interface Browser {
  goto(url: string): Promise<void>;
  /** Wait until `expression` is true in the page. */
  until(expression: string, timeoutMs?: number): Promise<void>;
  evaluate(expression: string): Promise<unknown>;
  text(selector: string): Promise<string>;
  waitFor(selector: string, timeoutMs?: number): Promise<void>;
  click(selector: string): Promise<void>;
  screenshot(path: string): Promise<void>;
  /** Uncaught errors of the page's scripts, and how many times the main frame navigated. */
  stats(): Promise<{ pageErrors: string[]; navigations: number }>;
  close(): Promise<void>;
}

const DRIVER = join(new URL(".", import.meta.url).pathname, "_browser_driver.ts");

/** Start Chromium at `executablePath`. */
export async function openBrowser(executablePath: string): Promise<Browser> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", DRIVER, executablePath],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  let buffer = "";
  const nextLine = async (): Promise<string> => {
    while (!buffer.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) {
        throw new Error(`Cannot drive the browser: the driver exited. Its stderr:\n${stderr}`);
      }
      buffer += value;
    }
    const at = buffer.indexOf("\n");
    const line = buffer.slice(0, at);
    buffer = buffer.slice(at + 1);
    return line;
  };
  await nextLine();
  let next = 1;
  let queue: Promise<unknown> = Promise.resolve();
  const send = (op: string, arg?: string, timeoutMs?: number): Promise<unknown> => {
    const run = queue.then(async () => {
      const id = next++;
      await writer.write(
        new TextEncoder().encode(JSON.stringify({ id, op, arg, timeoutMs }) + "\n"),
      );
      const reply = JSON.parse(await nextLine());
      if (!reply.ok) throw new Error(`Browser ${op} ${arg ?? ""} failed: ${reply.error}`);
      return reply.value;
    });
    queue = run.catch(() => {});
    return run;
  };
  let closed: Promise<void> | undefined;
  return {
    goto: async (url) => void await send("goto", url),
    until: async (expression, timeoutMs) => void await send("until", expression, timeoutMs),
    evaluate: (expression) => send("eval", expression),
    text: async (selector) => String(await send("text", selector) ?? ""),
    waitFor: async (selector, timeoutMs) => void await send("waitFor", selector, timeoutMs),
    click: async (selector) => void await send("click", selector),
    screenshot: async (path) => void await send("screenshot", path),
    stats: async () => await send("stats") as { pageErrors: string[]; navigations: number },
    close() {
      closed ??= (async () => {
        await send("close").catch(() => {});
        await writer.close().catch(() => {});
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await child.status;
        clearTimeout(timer);
        await lines.cancel().catch(() => {});
        await stderrDone.catch(() => {});
      })();
      return closed;
    },
  };
}
