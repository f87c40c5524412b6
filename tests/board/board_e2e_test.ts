/**
 * End to end in a real browser: `deno task stream --board 0` (with its deno.json permissions) on
 * a directory of fixtures against a nats-server, the page opened in headless Chromium, more
 * images and some bad files copied in, and the cluster grid seen to grow without a reload; then
 * a thumbnail clicked (history and neighbours), the NATS server stopped and started again (the
 * page says so), and a screenshot saved.
 *
 * Needs /usr/bin/chromium (Debian's `chromium`): without it the test is skipped with a message,
 * unless `SCANSTREAM_REQUIRE_BROWSER=1` (CI), where it fails. The screenshot goes to a temporary
 * directory, or to `SCANSTREAM_SCREENSHOT` when set (the README's docs/board.png).
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { startNatsServer } from "../../src/transport/nats_server.ts";
import { natsTest } from "../_nats.ts";
import { shapeImageNames } from "../_shapes.ts";
import { spawnTask } from "../tasks/_task_process.ts";
import { openBrowser } from "./_browser.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHAPES = join(ROOT, "fixtures", "shapes");
const BAD = join(ROOT, "fixtures", "bad");
const BAD_FILES = ["corrupt.png", "text.png"];
const CHROMIUM = "/usr/bin/chromium";
/** Images in the directory when the stream starts, and after more are copied in. */
const FIRST = 60;
const SECOND = 90;
/** Longest wait for any one thing. */
const WAIT_MS = 60_000;
const NAME =
  "board test - the page shows the stream's clusters and updates them live, without a reload";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(what: string, get: () => T | undefined, detail: () => string) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}:\n${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function copyImages(names: string[], to: string) {
  for (const name of names) await Deno.copyFile(join(SHAPES, name), join(to, name));
}

if (!(await exists(CHROMIUM))) {
  if (Deno.env.get("SCANSTREAM_REQUIRE_BROWSER") === "1") {
    Deno.test(NAME, () => {
      throw new Error(
        `${CHROMIUM} not found but SCANSTREAM_REQUIRE_BROWSER=1: install it (apt install chromium) ` +
          "or unset the variable",
      );
    });
  } else {
    console.warn(`${CHROMIUM} not found: skipping "${NAME}" (apt install chromium)`);
    Deno.test({ name: NAME, ignore: true, fn: () => {} });
  }
} else {
  natsTest(NAME, async ({ binary }) => {
    const started = Date.now();
    const root = await Deno.makeTempDir({ prefix: "scanstream_board_" });
    const watch = join(root, "inbox");
    await Deno.mkdir(watch);
    const names = shapeImageNames();
    await copyImages(names.slice(0, FIRST), watch);
    // A server of this test's own, with a store that survives a restart on the same port.
    let nats = await startNatsServer({ binary, storeDir: join(root, "nats") });
    const stream = await spawnTask("stream", [
      "--watch",
      watch,
      "--state",
      join(root, "state"),
      "--nats",
      nats.url,
      "--name",
      "shapes",
      "--labels",
      join(SHAPES, "labels.csv"),
      "--board",
      "0",
      // Small rounds: the page, not the accuracy, is under test.
      "--input-size",
      "16",
      "--warmup-steps",
      "0",
      "--pretext-steps",
      "2",
      "--min-images",
      "30",
    ]);
    const page = await openBrowser(CHROMIUM);
    let streamCode: number | undefined;
    try {
      const url = await waitFor(
        "BOARD_URL",
        () => stream.lines.find((l) => l.startsWith("BOARD_URL="))?.slice("BOARD_URL=".length),
        () => stream.stderr().slice(-3000),
      );
      // Browser-side code goes as strings: this file is type-checked without the DOM library.
      const until = (expression: string) => page.until(expression, WAIT_MS);
      const total = "Number(document.getElementById('clusters').dataset.total)";
      await page.goto(url);
      await until(`${total} === ${FIRST}`);
      await page.evaluate("window.boardTestMarker = 'same page'");

      await copyImages(names.slice(FIRST, SECOND), watch);
      for (const name of BAD_FILES) await Deno.copyFile(join(BAD, name), join(watch, name));
      await until(`${total} === ${SECOND}`);
      await until(`document.querySelectorAll('#refusals li').length === ${BAD_FILES.length}`);
      assert.equal(
        await page.evaluate("window.boardTestMarker"),
        "same page",
        "the page was not reloaded",
      );
      assert.equal((await page.stats()).navigations, 1);
      assert.equal(
        await page.evaluate(
          "[...document.querySelectorAll('.cluster')].reduce((n, c) => n + Number(c.dataset.size), 0)",
        ),
        SECOND,
      );
      assert.match(await page.text("#refusals"), /corrupt\.png/);

      // Every thumbnail is an ingested image the server encoded.
      await until(
        "[...document.querySelectorAll('.cluster img.thumb')]" +
          ".every((img) => img.complete && img.naturalWidth === 16)",
      );
      await page.waitFor("#chart svg polyline", WAIT_MS);

      await page.click(".cluster img.thumb");
      await page.waitFor("#detail-history li", WAIT_MS);
      await page.waitFor("#detail-neighbours img.thumb", WAIT_MS);
      assert.match(await page.text("#detail-info"), /img_\d+\.(png|jpg)/);
      assert.match(await page.text("#connection"), /NATS connected/);
      const screenshot = resolve(Deno.env.get("SCANSTREAM_SCREENSHOT") ?? join(root, "board.png"));
      await page.screenshot(screenshot);
      const png = await Deno.readFile(screenshot);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");

      // The NATS server goes away and comes back: the page says both.
      await nats.stop();
      await until("/NATS connection lost/.test(document.getElementById('connection').textContent)");
      nats = await startNatsServer({ binary, port: nats.port, storeDir: nats.storeDir });
      await until("/NATS connected/.test(document.getElementById('connection').textContent)");
      assert.deepEqual((await page.stats()).pageErrors, []);
      streamCode = await stream.stop();
      assert.equal(streamCode, 0, stream.stderr().slice(-3000));
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      console.log(`board e2e: done in ${seconds} s; screenshot ${screenshot}`);
    } finally {
      await page.close();
      if (streamCode === undefined) await stream.stop();
      await nats.stop();
      await Deno.remove(root, { recursive: true });
    }
  });
}
