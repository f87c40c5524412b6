import assert from "node:assert/strict";
import { REPEATED_SIGNAL_MS, signalAction } from "../../tasks/_cli.ts";

Deno.test("signalAction() - the first signal stops, the same Ctrl-C delivered again is ignored, a later one exits", () => {
  assert.equal(signalAction(undefined, 5_000), "stop");
  // A terminal's SIGINT to the process group plus deno task's forwarded copy: milliseconds apart.
  assert.equal(signalAction(5_000, 5_003), "same");
  assert.equal(signalAction(5_000, 5_000 + REPEATED_SIGNAL_MS - 1), "same");
  assert.equal(signalAction(5_000, 5_000 + REPEATED_SIGNAL_MS), "exit");
  assert.equal(signalAction(5_000, 60_000), "exit");
});
