/**
 * The tasks that talk to NATS, run as `deno task` runs them (deno.json permissions): credentials
 * from a URL, flags or NATS_* variables reach the server and never the output, and pipeline names
 * that would break a subject are refused before connecting.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { natsTest } from "../_nats.ts";
import { runTaskScript, taskPermissions } from "../run/_tiny_run.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SECRETS = /s3cret|t0ken/;

/** `tasks/events.ts` until it prints `until` on stderr, then SIGTERM; everything it wrote. */
async function eventsUntil(args: string[], env: Record<string, string>, until: RegExp) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(await taskPermissions("events")), join(ROOT, "tasks/events.ts"), ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let stderr = "";
  let stdout = "";
  const out = (async () => {
    for await (const chunk of child.stdout) stdout += decoder.decode(chunk, { stream: true });
  })();
  const deadline = Date.now() + 20_000;
  for await (const chunk of child.stderr) {
    stderr += decoder.decode(chunk, { stream: true });
    if (until.test(stderr) || Date.now() > deadline) break;
  }
  child.kill("SIGTERM");
  const { code } = await child.status;
  await out;
  return { code, output: stderr + stdout, stderr };
}

natsTest(
  "events task: credentials from URL or environment are used, and never printed",
  async ({ server }) => {
    const withUrl = await eventsUntil(
      ["--nats", `nats://alice:s3cret@127.0.0.1:${server.port}`, "--name", "creds"],
      {},
      /printing/,
    );
    assert.match(
      withUrl.stderr,
      new RegExp(
        `connecting to nats://\\*\\*\\*@127\\.0\\.0\\.1:${server.port} \\(no credentials\\)`,
      ),
    );
    assert.match(withUrl.stderr, /printing assignments, errors, clusters, labels of creds/);
    assert.equal(withUrl.code, 0, withUrl.output);

    const withEnv = await eventsUntil(
      ["--nats", server.url, "--name", "creds"],
      { NATS_USER: "alice", NATS_PASS: "s3cret" },
      /printing/,
    );
    assert.match(withEnv.stderr, /\(user alice\)/);
    assert.equal(withEnv.code, 0, withEnv.output);
    for (const run of [withUrl, withEnv]) assert.doesNotMatch(run.output, SECRETS);
  },
);

Deno.test("events task: conflicting credentials and bad pipeline names are usage errors, secrets unprinted", async () => {
  const mixed = await runTaskScript("events", [
    "--nats-token",
    "t0ken",
    "--nats-user",
    "alice",
    "--nats-pass",
    "s3cret",
  ]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /give one of user and password, token or creds file/);
  assert.doesNotMatch(mixed.stderr + mixed.stdout, SECRETS);
  // One per kind of mistake; subjects_test.ts covers the rest of validatePipelineName.
  for (const name of ["a.b", "a b"]) {
    const result = await runTaskScript("events", ["--name", name]);
    assert.equal(result.code, 2, name);
    assert.match(result.stderr, /--name: Cannot use pipeline name/, name);
  }
});

natsTest(
  "status and classify tasks: credentials in the URL are used and never printed",
  async ({ server }) => {
    const url = `nats://alice:s3cret@127.0.0.1:${server.port}`;
    const redacted = new RegExp(
      `connecting to nats://\\*\\*\\*@127\\.0\\.0\\.1:${server.port} \\(no credentials\\)`,
    );
    // No pipeline named creds exists: status connects, then fails; classify times out. Either
    // way the URL went through the shared connection, which redacts it.
    const runs = [
      await runTaskScript("status", ["--nats", url, "--name", "creds"]),
      await runTaskScript("classify", [
        "--nats",
        url,
        "--name",
        "creds",
        "--timeout",
        "1",
        join(ROOT, "fixtures/shapes/img_0001.png"),
      ]),
    ];
    for (const run of runs) {
      assert.match(run.stderr, redacted);
      assert.doesNotMatch(run.stderr + run.stdout, SECRETS);
    }
  },
);
