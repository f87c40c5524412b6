import assert from "node:assert/strict";
import { firstValueFrom, from, Subject, toArray } from "rxjs";
import { mapInOrder } from "../../src/ingest/map_in_order.ts";
import { delay, SANITIZE } from "./_helpers.ts";

Deno.test({
  name: "mapInOrder() keeps input order when later projections settle first",
  ...SANITIZE,
}, async () => {
  const waits = [40, 5, 20, 1, 10];
  const out = await firstValueFrom(
    from(waits.map((ms, i) => [ms, i])).pipe(
      mapInOrder(async ([ms, i]) => {
        await delay(ms);
        return i;
      }, 3),
      toArray(),
    ),
  );
  assert.deepEqual(out, [0, 1, 2, 3, 4]);
});

Deno.test({
  name: "mapInOrder() runs at most `concurrency` projections, finished ones included",
  ...SANITIZE,
}, async () => {
  const input = new Subject<number>();
  const release = new Map<number, () => void>();
  let started = 0;
  const results: number[] = [];
  const subscription = input.pipe(
    mapInOrder((i) => {
      started++;
      return new Promise<number>((resolve) => release.set(i, () => resolve(i)));
    }, 2),
  ).subscribe((value) => results.push(value));
  try {
    for (let i = 0; i < 5; i++) input.next(i);
    assert.equal(started, 2);
    release.get(1)!();
    await delay(1);
    // 1 is done but waits behind 0, and still holds its slot.
    assert.equal(started, 2);
    assert.deepEqual(results, []);
    release.get(0)!();
    await delay(1);
    assert.deepEqual(results, [0, 1]);
    assert.equal(started, 4);
  } finally {
    subscription.unsubscribe();
  }
  release.get(2)!();
  await delay(1);
  assert.deepEqual(results, [0, 1]);
  assert.throws(() => mapInOrder(() => Promise.resolve(0), 0), RangeError);
});

Deno.test({ name: "mapInOrder() errors on a rejected projection", ...SANITIZE }, async () => {
  await assert.rejects(
    firstValueFrom(from([1]).pipe(mapInOrder(() => Promise.reject(new Error("boom")), 1))),
    /boom/,
  );
});
