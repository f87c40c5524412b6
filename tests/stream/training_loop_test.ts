/** The training loop's rests do not pile up abort listeners (finding 13). */
import assert from "node:assert/strict";
import { trainingLoop } from "../../src/stream/training_loop.ts";

Deno.test("trainingLoop() removes the abort listener of each rest", async () => {
  const controller = new AbortController();
  const signal = controller.signal;
  let listeners = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, fn: EventListener, options?: unknown) => {
    if (type === "abort") listeners++;
    add(type, fn, options as AddEventListenerOptions);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListener) => {
    if (type === "abort") listeners--;
    remove(type, fn);
  }) as typeof signal.removeEventListener;
  const trainer = { resting: true, store: { n: 10 } };
  const loop = trainingLoop(trainer as never, signal);
  const running = loop.run(() => Promise.resolve());
  for (let i = 0; i < 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    loop.wake();
  }
  assert.ok(listeners <= 1, `abort listeners after 200 rests: ${listeners}`);
  controller.abort();
  await running;
});
