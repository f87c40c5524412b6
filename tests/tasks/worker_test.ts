import assert from "node:assert/strict";
import { runTaskScript } from "../run/_tiny_run.ts";

Deno.test("worker task - refuses a missing or unknown stage, bad flags, with usage", async () => {
  const cases: [string[], RegExp][] = [
    [["--nats", "nats://127.0.0.1:1"], /--stage is required/],
    [
      ["--stage", "train", "--nats", "nats://127.0.0.1:1"],
      /--stage must be one of ingest, embed, mine, cluster, current value is train/,
    ],
    [
      ["--stage", "mine", "--nats", "nats://127.0.0.1:1", "--batch-size", "0"],
      /--batch-size must be a positive integer/,
    ],
    [["--stage", "ingest", "--nats", "nats://127.0.0.1:1"], /--watch is required/],
    [
      ["--stage", "embed", "--nats", "nats://127.0.0.1:1", "--ack-wait", "0"],
      /--ack-wait must be a positive integer/,
    ],
    [
      ["--stage", "embed", "--nats", "nats://127.0.0.1:1", "--name", "a.b"],
      /--name: .*only letters/,
    ],
  ];
  for (const [args, message] of cases) {
    const result = await runTaskScript("worker", args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, /usage: deno task worker/);
  }
});
