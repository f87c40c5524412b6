/**
 * `deno task status` against a server that is not there: it says the bus is away (a line, and
 * the JSON form with `--json`) and exits 1 within its wait, instead of waiting for the server.
 */
import assert from "node:assert/strict";
import { freePort } from "../../src/transport/nats_server.ts";
import { spawnTask } from "./_task_process.ts";

Deno.test("status task - no server answering: 'bus away' and exit 1, in text and JSON", async () => {
  const url = `nats://127.0.0.1:${freePort()}`;
  for (const json of [false, true]) {
    const started = Date.now();
    const status = await spawnTask("status", [
      "--nats",
      url,
      "--name",
      "away",
      ...(json ? ["--json"] : []),
    ]);
    const code = await status.status.then((s) => s.code);
    await status.stop();
    const seconds = (Date.now() - started) / 1000;
    assert.equal(code, 1, status.stderr());
    const out = status.lines.filter((l) => l.trim() !== "");
    if (json) assert.deepEqual(JSON.parse(out[0]), { pipeline: "away", bus: "away" });
    else assert.equal(out[0], "away: bus away");
    assert.match(status.stderr(), /bus away/);
    assert.ok(seconds < 30, `took ${seconds} s`);
  }
});
