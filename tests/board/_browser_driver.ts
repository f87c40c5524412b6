/**
 * Headless Chromium driven by playwright-core, as a subprocess the board's end-to-end test talks
 * to: one JSON command per line on stdin, one JSON answer per line on stdout. It runs apart
 * because playwright-core probes `/proc/sys/fs/binfmt_misc` when it loads, which Deno allows only
 * with `--allow-all`, more than the test task grants.
 *
 * Commands: `{ id, op, arg?, timeoutMs? }` with op `goto` (url), `until` (expression true in the
 * page), `eval` (expression), `text` (selector), `waitFor` (selector), `click` (selector),
 * `screenshot` (path), `stats` (page errors and main-frame navigations), `close`.
 * Answers: `{ id, ok: true, value }` or `{ id, ok: false, error }`.
 */
import { chromium } from "playwright-core";

interface Command {
  id: number;
  op: string;
  arg?: string;
  timeoutMs?: number;
}

const executablePath = Deno.args[0] ?? "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
// The page's CSP forbids eval, and the test's checks arrive as strings: they may bypass it.
const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
const pageErrors: string[] = [];
let navigations = 0;
page.on("pageerror", (error) => pageErrors.push(error.message));
page.on("framenavigated", (frame) => {
  if (frame === page.mainFrame()) navigations++;
});

async function run(command: Command): Promise<unknown> {
  const timeout = command.timeoutMs ?? 30_000;
  const arg = command.arg ?? "";
  switch (command.op) {
    case "goto":
      await page.goto(arg, { timeout });
      return null;
    case "until":
      await page.waitForFunction(arg, undefined, { timeout });
      return null;
    case "eval":
      return await page.evaluate(arg);
    case "text":
      return await page.textContent(arg, { timeout });
    case "waitFor":
      await page.waitForSelector(arg, { timeout });
      return null;
    case "click":
      await page.click(arg, { timeout });
      return null;
    case "screenshot":
      await page.screenshot({ path: arg });
      return null;
    case "stats":
      return { pageErrors, navigations };
    case "close":
      return null;
    default:
      throw new RangeError(`Cannot run browser command: unknown op ${JSON.stringify(command.op)}`);
  }
}

const encoder = new TextEncoder();
const answer = (value: object) =>
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
answer({ id: 0, ok: true, value: "ready" });
let rest = "";
const decoder = new TextDecoder();
reading: for await (const chunk of Deno.stdin.readable) {
  const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
  rest = lines.pop()!;
  for (const line of lines) {
    if (line.trim() === "") continue;
    const command = JSON.parse(line) as Command;
    try {
      answer({ id: command.id, ok: true, value: (await run(command)) ?? null });
    } catch (error) {
      answer({ id: command.id, ok: false, error: (error as Error).message });
    }
    if (command.op === "close") break reading;
  }
}
await browser.close();
