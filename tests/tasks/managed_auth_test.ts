/**
 * The managed nats-server requires the generated credential (finding 11 of issue 13): an
 * unauthenticated client is refused, the stream's bus works, the credential file is 0600 and
 * the secret is in no log line.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { natsAvailable } from "../_nats.ts";
import { readCredentials } from "../../src/transport/managed_credentials.ts";
import { openStreamBus } from "../../tasks/_stream_setup.ts";
import { runTaskScript } from "../run/_tiny_run.ts";

Deno.test({
  name: "managed nats-server - refuses clients without the generated credential, serves the stream",
  ignore: !natsAvailable,
  fn: async () => {
    const stateDir = await Deno.makeTempDir({ prefix: "scanstream-auth-" });
    const lines: string[] = [];
    try {
      const opened = await openStreamBus({ name: "authtest", stateDir, log: (l) => lines.push(l) });
      try {
        assert.equal(opened.transport, "managed");
        const credentials = await readCredentials(stateDir);
        const info = await Deno.stat(`${stateDir}/nats-credentials.json`);
        assert.equal(info.mode! & 0o777, 0o600);
        assert.equal(credentials.url, opened.url);
        assert.ok(lines.every((line) => !line.includes(credentials.pass)), lines.join("\n"));

        // The server closes a refused client's socket; nats.js can report that close as an
        // ECONNRESET after connect() has already rejected, outside any promise of the test. It
        // is the refusal under test, not a failure: swallowed here, and only here.
        const refusalNoise = (event: ErrorEvent | PromiseRejectionEvent) => {
          const error = "error" in event ? event.error : event.reason;
          if (String(error?.message ?? error).includes("ECONNRESET")) event.preventDefault();
        };
        globalThis.addEventListener("error", refusalNoise);
        globalThis.addEventListener("unhandledrejection", refusalNoise);
        await assert.rejects(
          () => connect({ servers: opened.url!, reconnect: false, timeout: 3000 }),
          /authorization|Authorization/i,
        );
        await assert.rejects(
          () =>
            connect({
              servers: opened.url!,
              user: "scanstream",
              pass: "wrong",
              reconnect: false,
              timeout: 3000,
            }),
          /authorization/i,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
        globalThis.removeEventListener("error", refusalNoise);
        globalThis.removeEventListener("unhandledrejection", refusalNoise);
        const good = await connect({
          servers: opened.url!,
          user: credentials.user,
          pass: credentials.pass,
          reconnect: false,
        });
        await good.close();

        // The stream's own bus publishes to a durable subject and reads it back.
        const received = new Promise((resolve) => {
          const sub = opened.bus.subscribe("scan.authtest.errors", { deliverAll: true })
            .subscribe((msg) => {
              sub.unsubscribe();
              resolve(new TextDecoder().decode(msg.payload));
            });
        });
        await opened.bus.publish("scan.authtest.errors", new TextEncoder().encode("{}"));
        assert.equal(await received, "{}");
      } finally {
        await opened.close();
      }
      // A restart keeps the credential (and so the JetStream data stays the stream's).
      const before = await readCredentials(stateDir);
      const again = await openStreamBus({ name: "authtest", stateDir, log: () => {} });
      await again.close();
      assert.equal((await readCredentials(stateDir)).pass, before.pass);
    } finally {
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "status task with --nats-state: the managed server's URL and credential, unprinted",
  ignore: !natsAvailable,
  fn: async () => {
    const stateDir = await Deno.makeTempDir({ prefix: "scanstream-auth-" });
    const opened = await openStreamBus({ name: "statetest", stateDir, log: () => {} });
    try {
      const { pass } = await readCredentials(stateDir);
      const status = await runTaskScript("status", [
        "--nats-state",
        stateDir,
        "--name",
        "statetest",
        "--json",
      ]);
      assert.equal(status.code, 0, status.stderr);
      assert.equal(JSON.parse(status.stdout).pipeline, "statetest");
      assert.match(status.stderr, /\(user scanstream\)/);
      assert.doesNotMatch(status.stdout + status.stderr, new RegExp(pass));
      // Without the state, the same server refuses the task (it waits, then says so).
      const refused = await runTaskScript("status", ["--nats", opened.url!, "--name", "x"]);
      assert.notEqual(refused.code, 0);
      const missing = await runTaskScript("status", ["--nats-state", `${stateDir}/nope`]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /--nats-state: cannot read/);
    } finally {
      await opened.close();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});
