import assert from "node:assert/strict";
import { servingFirst } from "../../src/stream/serving_first.ts";

const elapsed = async (promise: Promise<void>) => {
  const start = performance.now();
  await promise;
  return performance.now() - start;
};

Deno.test("servingFirst - the gate opens at once when nothing is in flight", async () => {
  const gate = servingFirst({ quietMs: 20, maxWaitMs: 5000 });
  assert.ok(await elapsed(gate.gate()) < 1000);
});

Deno.test("servingFirst - the gate waits for images in flight and opens once they are served", async () => {
  const gate = servingFirst({ quietMs: 20, maxWaitMs: 5000 });
  gate.arrived(3);
  setTimeout(() => gate.served(3), 300);
  const waited = await elapsed(gate.gate());
  assert.ok(waited >= 290, `opened after ${waited} ms, before the images were served`);
  assert.ok(waited < 4000, `opened after ${waited} ms`);
  assert.equal(gate.inFlight, 0);
});

Deno.test("servingFirst - under images that never finish, the gate still opens after maxWaitMs", async () => {
  const gate = servingFirst({ quietMs: 20, maxWaitMs: 300 });
  gate.arrived(1);
  const waited = await elapsed(gate.gate());
  assert.ok(waited >= 290 && waited < 3000, `opened after ${waited} ms`);
  gate.served(5);
  assert.equal(gate.inFlight, 0, "served more than arrived must not go negative");
});

Deno.test("servingFirst - under a steady stream a step waits about as long as the step before it took", async () => {
  const gate = servingFirst({ quietMs: 20, maxWaitMs: 5000 });
  await gate.gate();
  gate.arrived(1);
  // A cheap step: the next wait is short, although an image is in flight.
  const cheap = await elapsed(gate.gate());
  assert.ok(cheap < 1000, `waited ${cheap} ms after a cheap step`);
  // A step of 400 ms: the next wait matches it.
  await new Promise((resolve) => setTimeout(resolve, 400));
  const matched = await elapsed(gate.gate());
  assert.ok(matched >= 350 && matched < 4000, `waited ${matched} ms after a 400 ms step`);
});
