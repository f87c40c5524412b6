import { EMPTY } from "rxjs";
import { publishEach } from "../../src/operators/publish_each.ts";
import { marbleScheduler } from "../_assert.ts";

Deno.test("publishEach() passes each value on once its publish completed, in order", () => {
  marbleScheduler().run(({ cold, hot, expectObservable }) => {
    const source = hot("--a-b------|");
    const published: string[] = [];
    const publish = (value: string) => {
      published.push(value);
      return cold("---(k|)");
    };
    // b's publish starts only after a's completed: the bus sees them in order.
    expectObservable(source.pipe(publishEach(publish))).toBe("-----a--b--|");
    const empty = hot("--a--|");
    expectObservable(empty.pipe(publishEach(() => EMPTY))).toBe("--a--|");
  });
});

Deno.test("publishEach() errors when a publish fails, and passes a source error on", () => {
  marbleScheduler().run(({ cold, hot, expectObservable }) => {
    const source = hot("--a--b--|");
    expectObservable(
      source.pipe(publishEach(() => cold("-#", undefined, new Error("bus closed")))),
    ).toBe("---#", undefined, new Error("bus closed"));
    expectObservable(
      hot("--a--#", undefined, new Error("gone")).pipe(publishEach(() => cold("|"))),
    ).toBe("--a--#", undefined, new Error("gone"));
  });
});

Deno.test("publishEach() waits for the last publish before completing; unsubscribing stops it", () => {
  marbleScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    expectObservable(hot("--a|").pipe(publishEach(() => cold("----|")))).toBe("------(a|)");
    const source = hot("--a--b--");
    const publishing = cold("------|");
    expectObservable(source.pipe(publishEach(() => publishing)), "^----!").toBe("------");
    expectSubscriptions(source.subscriptions).toBe("^----!");
    expectSubscriptions(publishing.subscriptions).toBe("--^--!");
  });
});
