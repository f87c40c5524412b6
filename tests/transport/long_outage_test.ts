/**
 * An outage longer than the duplicate window (issue 13, finding 10): a publish keeps retrying
 * instead of failing, and is stored once when the server is back; the ids already stored are
 * readable whatever the gap (`storedIds`), which is what a retry past the window and a restart
 * rely on.
 */
import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { startNatsServer } from "../../src/transport/nats_server.ts";
import { storedIds } from "../../src/transport/stored_ids.ts";
import { streamName, subjects } from "../../src/transport/subjects.ts";
import { natsTest } from "../_nats.ts";

const NAME = "longoutage";
const S = subjects(NAME);

natsTest(
  "NatsBus - a publish outlasts an outage longer than the duplicate window and is stored once",
  async ({ server, binary }) => {
    const storeDir = await Deno.makeTempDir();
    let second = await startNatsServer({ binary, storeDir });
    const bus = await NatsBus.connect({
      servers: second.url,
      name: NAME,
      duplicateWindowMs: 1000,
      reconnectTimeWaitMs: 100,
    });
    try {
      await bus.publish(S.images, new TextEncoder().encode("before"), { msgId: "image:a" });
      await second.stop();
      const publishing = bus.publish(S.images, new TextEncoder().encode("during"), {
        msgId: "image:b",
      });
      let settled = false;
      publishing.then(() => (settled = true), () => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(settled, false, "still retrying after 3 windows");
      second = await startNatsServer({ binary, storeDir, port: second.port });
      await publishing;
      // The same ids again, long after the window: JetStream alone would store them twice.
      const stored = await storedIds(bus.connection, streamName(NAME), 1);
      assert.deepEqual([...stored.ids].sort(), ["image:a", "image:b"]);
      assert.equal(stored.lastSeq, 2);
      const js = jetstream(bus.connection);
      await js.publish(S.images, new TextEncoder().encode("x"), { msgID: "image:c" });
      assert.deepEqual(
        [...(await storedIds(bus.connection, streamName(NAME), 3)).ids],
        ["image:c"],
      );
    } finally {
      await bus.close();
      await second.stop();
      await Deno.remove(storeDir, { recursive: true });
      void server;
    }
  },
);
