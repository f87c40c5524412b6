import assert from "node:assert/strict";
import { batchWithin } from "../../src/operators/batch_within.ts";
import { marbleScheduler } from "../_assert.ts";

Deno.test("batchWithin() emits full batches at once and partial ones when their wait ends", () => {
  const testScheduler = marbleScheduler();
  testScheduler.run(({ hot, expectObservable }) => {
    const source = hot("-a-b-c-d---------e--|");
    expectObservable(source.pipe(batchWithin(3, 10, testScheduler))).toBe(
      // The full batch at 5 starts the next one, whose wait ends at 15.
      "-----x---------y----(z|)",
      { x: ["a", "b", "c"], y: ["d"], z: ["e"] },
    );
  });
});

Deno.test("batchWithin() never emits an empty batch while the source is idle", () => {
  const testScheduler = marbleScheduler();
  testScheduler.run(({ hot, expectObservable }) => {
    const source = hot("------------------------------|");
    expectObservable(source.pipe(batchWithin(2, 5, testScheduler))).toBe(
      "------------------------------|",
    );
  });
});

Deno.test("batchWithin() flushes on completion, and forwards errors without a flush", () => {
  const testScheduler = marbleScheduler();
  testScheduler.run(({ hot, expectObservable }) => {
    expectObservable(hot("-a-b|").pipe(batchWithin(5, 100, testScheduler))).toBe("----(x|)", {
      x: ["a", "b"],
    });
    expectObservable(
      hot("-a-#", undefined, new Error("boom")).pipe(batchWithin(5, 100, testScheduler)),
    )
      .toBe("---#", undefined, new Error("boom"));
  });
});

Deno.test("batchWithin() unsubscribes from the source and stops its timer", () => {
  const testScheduler = marbleScheduler();
  testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
    const source = hot("-a-b-c-d-e-f-g-");
    expectObservable(source.pipe(batchWithin(10, 4, testScheduler)), "^------!").toBe(
      "----x---",
      { x: ["a", "b"] },
    );
    expectSubscriptions(source.subscriptions).toBe("^------!");
  });
});

Deno.test("batchWithin() rejects a size or a wait that cannot work", () => {
  assert.throws(() => batchWithin(0, 10), /maxSize must be a positive integer, current value is 0/);
  assert.throws(() => batchWithin(2, 0), /maxWaitMs must be positive, current value is 0/);
});
