/** A stream or worker says the bus is away, and for how long once it is back (finding 10). */
import assert from "node:assert/strict";
import { reportBusAway } from "../../src/transport/bus_away.ts";
import { NatsBus } from "../../src/transport/nats_bus.ts";
import { startNatsServer } from "../../src/transport/nats_server.ts";
import { natsTest } from "../_nats.ts";

natsTest(
  "reportBusAway - logs the outage and publishes one errors event after it",
  async ({ binary }) => {
    const storeDir = await Deno.makeTempDir();
    let server = await startNatsServer({ binary, storeDir });
    const bus = await NatsBus.connect({
      servers: server.url,
      name: "away",
      reconnectTimeWaitMs: 100,
    });
    const logs: string[] = [];
    const watching = reportBusAway(bus, "away", "stream away", (l) => logs.push(l));
    try {
      await server.stop();
      const deadline = Date.now() + 10_000;
      while (!logs.some((l) => /bus away since/.test(l)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      server = await startNatsServer({ binary, storeDir, port: server.port });
      while (!logs.some((l) => /bus back after/.test(l)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const events: string[] = [];
      const sub = bus.subscribe("scan.away.errors", { deliverAll: true }).subscribe((m) =>
        events.push(new TextDecoder().decode(m.payload))
      );
      while (events.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      sub.unsubscribe();
      assert.match(logs.join("\n"), /stream away: bus away since .*work goes on/);
      assert.match(logs.join("\n"), /stream away: bus back after \d+\.\d s/);
      assert.equal(events.length, 1);
      assert.match(JSON.parse(events[0]).reason, /the bus was away from .* for \d+\.\d s/);
    } finally {
      watching.unsubscribe();
      await bus.close();
      await server.stop();
      await Deno.remove(storeDir, { recursive: true });
    }
  },
);
