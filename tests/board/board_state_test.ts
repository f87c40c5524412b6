import assert from "node:assert/strict";
import { BoardState } from "../../src/board/board_state.ts";
import { refusalEvent } from "../../src/stream/events.ts";
import { assigned, imageId, update } from "./_helpers.ts";

Deno.test("BoardState - assignments then moves place each image in its current cluster", () => {
  const state = new BoardState({ name: "t" });
  let changes = 0;
  state.onChange(() => changes++);
  state.applyUpdate(update(1, [2, 1]));
  state.applyAssignment(assigned(1, 0));
  state.applyAssignment(assigned(2, 0));
  state.applyAssignment(assigned(3, 1));
  state.applyUpdate(update(2, [1, 2], [{ id: imageId(2), from: 0, to: 1 }]));
  const snapshot = state.snapshot();
  assert.deepEqual(snapshot.clusters.map((c) => c.size), [1, 2]);
  assert.deepEqual(snapshot.clusters[1].top.map((t) => t.id).sort(), [imageId(2), imageId(3)]);
  assert.equal(snapshot.version, 2);
  assert.equal(snapshot.assigned, 3);
  assert.equal(changes, 5);
  assert.deepEqual(
    state.member(imageId(2))!.history.map((h) => [h.version, h.how, h.cluster]),
    [[1, "assigned", 0], [2, "moved", 1]],
  );
  assert.equal(state.member(imageId(9)), undefined);
});

Deno.test("BoardState - an assignment that arrives after a newer move does not undo it", () => {
  const state = new BoardState({ name: "t" });
  state.applyUpdate(update(3, [0, 1], [{ id: imageId(1), from: 0, to: 1 }]));
  state.applyAssignment(assigned(1, 0, 0.9, 2));
  assert.equal(state.clusterOf(imageId(1)), 1);
  const member = state.member(imageId(1))!;
  assert.equal(member.path, "img_1.png");
  assert.deepEqual(member.history.map((h) => h.version), [2, 3]);
});

Deno.test("BoardState - a replayed event changes nothing", () => {
  const state = new BoardState({ name: "t" });
  const events = [
    () => state.applyAssignment(assigned(1, 0)),
    () => state.applyUpdate(update(2, [0, 1], [{ id: imageId(1), from: 0, to: 1 }])),
    () =>
      state.applyRefusal(
        refusalEvent({ path: "x.png", reason: "bad", at: "2026-01-01T00:00:00Z" }),
      ),
  ];
  for (const apply of events) apply();
  const once = JSON.stringify(state.snapshot());
  const history = state.member(imageId(1))!.history.length;
  for (const apply of events) apply();
  assert.equal(JSON.stringify(state.snapshot()), once);
  assert.equal(state.member(imageId(1))!.history.length, history);
});

Deno.test("BoardState - a cluster of thousands shows its top images (exemplars first, then by confidence) and its size", () => {
  const state = new BoardState({ name: "t", topPerCluster: 10 });
  for (let n = 0; n < 3000; n++) state.applyAssignment(assigned(n, 0, (n % 1000) / 1000));
  state.applyUpdate(update(2, [3000], [], {}, [[imageId(5), imageId(6)]]));
  const [grid] = state.snapshot().clusters;
  assert.equal(grid.size, 3000);
  assert.equal(grid.top.length, 10);
  assert.deepEqual(grid.top.slice(0, 2).map((t) => t.id), [imageId(5), imageId(6)]);
  // The rest: confidence 0.999 (n = 999, 1999, 2999), then 0.998, ..., ties by id.
  assert.deepEqual(
    grid.top.slice(2, 5).map((t) => t.id),
    [imageId(999), imageId(1999), imageId(2999)],
  );
  assert.ok(grid.top.slice(2).every((t, i, a) => i === 0 || a[i - 1].confidence! >= t.confidence!));
});

Deno.test("BoardState - keeps the latest updates, refusals and metrics, metrics only with labels", () => {
  const state = new BoardState({
    name: "t",
    recentUpdates: 3,
    recentRefusals: 2,
    movesPerUpdate: 1,
  });
  state.applyUpdate(update(1, [1, 1]));
  for (let v = 2; v <= 5; v++) {
    state.applyUpdate(update(v, [1, 1], [
      { id: imageId(1), from: 0, to: 1 },
      { id: imageId(2), from: 1, to: 0 },
    ], { accuracy: v / 10, nmi: v / 20, ari: -0.1 }));
  }
  for (const path of ["a.png", "b.png", "c.png"]) {
    state.applyRefusal(refusalEvent({ path, reason: "not an image" }));
  }
  const snapshot = state.snapshot();
  assert.deepEqual(snapshot.updates.map((u) => u.version), [5, 4, 3]);
  assert.equal(snapshot.updates[0].movedCount, 2);
  assert.equal(snapshot.updates[0].moved.length, 1);
  assert.deepEqual(snapshot.metrics.map((m) => m.version), [2, 3, 4, 5]);
  assert.deepEqual(snapshot.refusals.map((r) => r.path), ["c.png", "b.png"]);
});

Deno.test("BoardState - says when the connection changes", () => {
  const state = new BoardState({ name: "t" });
  assert.equal(state.snapshot().connection.state, "connected");
  state.setConnection("disconnected", "127.0.0.1:4222");
  assert.deepEqual(
    [state.snapshot().connection.state, state.snapshot().connection.detail],
    ["disconnected", "127.0.0.1:4222"],
  );
  assert.equal(
    new BoardState({ name: "t", connection: "in-process" }).connection.state,
    "in-process",
  );
});

Deno.test("BoardState - refuses a limit that is not a positive integer", () => {
  assert.throws(() => new BoardState({ name: "t", topPerCluster: 0 }), /topPerCluster must be/);
});
