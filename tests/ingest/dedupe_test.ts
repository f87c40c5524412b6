import assert from "node:assert/strict";
import { SANITIZE } from "./_helpers.ts";
import { firstValueFrom, from, toArray } from "rxjs";
import { dedupeById } from "../../src/ingest/dedupe.ts";

type Value = { id: string; path: string } | { path: string; reason: string };

const values: Value[] = [
  { id: "a", path: "a1.png" },
  { id: "b", path: "b.png" },
  { path: "bad.png", reason: "corrupt" },
  { id: "a", path: "a2.png" },
  { path: "bad.png", reason: "corrupt" },
  { id: "c", path: "c.png" },
];

Deno.test({
  name: "dedupeById() lets the first of each id through and refusals unchanged",
  ...SANITIZE,
}, async () => {
  const duplicates: Value[] = [];
  const out = await firstValueFrom(
    from(values).pipe(dedupeById({ onDuplicate: (v) => duplicates.push(v) }), toArray()),
  );
  assert.deepEqual(out.map((v) => v.path), ["a1.png", "b.png", "bad.png", "bad.png", "c.png"]);
  assert.deepEqual(duplicates.map((v) => v.path), ["a2.png"]);
});

Deno.test({
  name: "dedupeById() drops seeded ids and keeps its seen set per subscription",
  ...SANITIZE,
}, async () => {
  const deduped = from(values).pipe(dedupeById<Value>({ seed: ["b", "c"] }), toArray());
  const first = await firstValueFrom(deduped);
  const second = await firstValueFrom(deduped);
  assert.deepEqual(first.map((v) => v.path), ["a1.png", "bad.png", "bad.png"]);
  assert.deepEqual(second, first);
});
