import assert from "node:assert/strict";
import { divertRefusals } from "../../src/operators/divert_refusals.ts";
import { marbleScheduler } from "../_assert.ts";

type Item = { id: string } | { path: string; reason: string };
const isRefusal = (value: Item): value is { path: string; reason: string } => "reason" in value;

const a = { id: "a" };
const b = { id: "b" };
const r = { path: "r.png", reason: "corrupt" };

Deno.test("divertRefusals() passes images on and hands refusals to the handler, in order", () => {
  const handled: unknown[] = [];
  marbleScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    const source = hot("--a--r--b--|", { a, r, b });
    const handle = (refusal: unknown) => {
      handled.push(refusal);
      return cold("----x|");
    };
    // b arrives while r is still being handled, so it waits until the handling completes.
    expectObservable(source.pipe(divertRefusals(isRefusal, handle))).toBe(
      "--a-------b|",
      { a, b },
    );
    expectSubscriptions(source.subscriptions).toBe("^----------!");
  });
  assert.deepEqual(handled, [r]);
});

Deno.test("divertRefusals() errors when the handler errors, and when the source errors", () => {
  marbleScheduler().run(({ cold, hot, expectObservable }) => {
    const failing = hot("--r--a--|", { r, a });
    expectObservable(
      failing.pipe(divertRefusals(isRefusal, () => cold("-#", undefined, new Error("bus down")))),
    ).toBe("---#", undefined, new Error("bus down"));
    const broken = hot("--a--#", { a }, new Error("watch failed"));
    expectObservable(broken.pipe(divertRefusals(isRefusal, () => cold("|")))).toBe(
      "--a--#",
      { a },
      new Error("watch failed"),
    );
  });
});

Deno.test("divertRefusals() completes after the last handling, and unsubscribes from both", () => {
  marbleScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    const source = hot("--r|", { r });
    const handling = cold("---|");
    expectObservable(source.pipe(divertRefusals(isRefusal, () => handling))).toBe("-----|");
    const long = hot("--a--r--b--", { a, r, b });
    const slow = cold("-----|");
    expectObservable(long.pipe(divertRefusals(isRefusal, () => slow)), "^-------!").toBe(
      "--a------",
      { a },
    );
    expectSubscriptions(long.subscriptions).toBe("^-------!");
    expectSubscriptions(slow.subscriptions).toBe("-----^--!");
  });
});
