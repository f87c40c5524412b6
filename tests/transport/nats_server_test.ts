import assert from "node:assert/strict";
import { findNatsServer, freePort, startNatsServer } from "../../src/transport/nats_server.ts";
import { natsTest } from "../_nats.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

natsTest(
  "startNatsServer() serves on loopback and stop() removes its store",
  async ({ server }) => {
    assert.match(server.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const hello = new Uint8Array(1024);
    const n = await conn.read(hello);
    conn.close();
    assert.match(new TextDecoder().decode(hello.subarray(0, n ?? 0)), /^INFO .*"jetstream":true/);

    const own = await startNatsServer();
    assert.ok(await exists(own.storeDir));
    await own.stop();
    await own.stop();
    assert.equal(await exists(own.storeDir), false);
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: own.port }));
  },
);

natsTest("startNatsServer() keeps a store dir it was given", async ({ binary }) => {
  const storeDir = await Deno.makeTempDir({ prefix: "scanstream-nats-test-" });
  try {
    const server = await startNatsServer({ binary, storeDir });
    await server.stop();
    assert.ok(await exists(`${storeDir}/jetstream`));
  } finally {
    await Deno.remove(storeDir, { recursive: true });
  }
});

natsTest(
  "startNatsServer() fails clearly, with the server's log, when the port is taken",
  async ({ server }) => {
    await assert.rejects(
      startNatsServer({ port: server.port }),
      (e) =>
        e instanceof Error &&
        new RegExp(`Cannot start nats-server on 127.0.0.1:${server.port}: it exited`)
          .test(e.message) &&
        /address already in use/i.test(e.message),
    );
  },
);

Deno.test("findNatsServer() returns an executable path or null, and freePort() a usable port", async () => {
  const found = await findNatsServer();
  if (found !== null) assert.ok(((await Deno.stat(found)).mode ?? 0) & 0o111);
  const port = freePort();
  assert.ok(port > 0 && port < 65536);
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  listener.close();
});

Deno.test("startNatsServer() reports a missing binary", async () => {
  await assert.rejects(
    startNatsServer({ binary: "/nonexistent/nats-server" }),
    (e) =>
      e instanceof Error && /\/nonexistent\/nats-server could not be run/.test(e.message) &&
      e.cause instanceof Deno.errors.NotFound,
  );
});

natsTest(
  "startNatsServer() listens on 127.0.0.1 only: no other interface, no monitoring port",
  async ({ server }) => {
    const log = server.log();
    assert.match(
      log,
      new RegExp(`Listening for client connections on 127\\.0\\.0\\.1:${server.port}`),
    );
    assert.doesNotMatch(log, /0\.0\.0\.0|\[::\]|monitor|websocket|leafnode|cluster/i);
    // Every address of this machine that is not loopback must refuse the port.
    const others = Deno.networkInterfaces().filter((i) =>
      !i.address.startsWith("127.") && i.address !== "::1" && !i.address.startsWith("fe80:")
    );
    for (const { address } of others) {
      await assert.rejects(
        Deno.connect({ hostname: address, port: server.port }),
        `nats-server answered on ${address}`,
      );
    }
  },
);
