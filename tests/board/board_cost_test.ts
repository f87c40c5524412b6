/**
 * Finding 8 of issue 13: board requests cost O(N) on the serving thread: a thumbnail copied
 * every id and path of the store (`store.view()`), and every snapshot sorted every member of
 * every cluster. A lookup reads one image; a snapshot is built once per change and chooses each
 * grid's top without sorting the cluster (`tools/bench_board.ts` measures both at 100k).
 */
import assert from "node:assert/strict";
import { BoardState } from "../../src/board/board_state.ts";
import { streamImageSource } from "../../src/board/image_source.ts";
import { assignmentEvent, clusterUpdateEvent } from "../../src/stream/events.ts";
import { ImageStore } from "../../src/stream/store.ts";
import { Random } from "../../src/util/random.ts";

const id = (i: number) => i.toString(16).padStart(64, "0");
const AT = "2026-01-01T00:00:00.000Z";

Deno.test("streamImageSource() reads one image by index, never a view of the whole store", () => {
  const store = new ImageStore(2);
  store.add({ id: id(1), path: "a.png", pixels: new Uint8Array(12).fill(1) });
  store.add({ id: id(2), path: "b.png", pixels: new Uint8Array(12).fill(2) });
  const guarded = Object.assign(Object.create(store), {
    view: () => {
      throw new Error("view() copies every id and path");
    },
  }) as ImageStore;
  for (const name of ["indexOf", "pathOf", "pixelsOf"] as const) {
    // deno-lint-ignore no-explicit-any -- bind the real methods to the real store
    (guarded as any)[name] = (store as any)[name]?.bind(store);
  }
  const source = streamImageSource({ store: guarded, neighboursOf: () => undefined });
  const image = source.image(id(2))!;
  assert.equal(image.path, "b.png");
  assert.deepEqual(image.pixels, new Uint8Array(12).fill(2));
  assert.equal(image.size, 2);
  assert.equal(source.image(id(3)), undefined);
});

Deno.test("BoardState - a snapshot is built once per change, not per request", () => {
  const state = new BoardState({ name: "t" });
  state.applyAssignment(assignmentEvent({
    id: id(1),
    path: "a.png",
    cluster: 0,
    confidence: 0.5,
    modelVersion: 1,
    at: AT,
  }));
  const first = state.snapshot();
  assert.equal(state.snapshot(), first, "no change: the same snapshot");
  state.applyAssignment(assignmentEvent({
    id: id(2),
    path: "b.png",
    cluster: 1,
    confidence: 0.9,
    modelVersion: 1,
    at: AT,
  }));
  const second = state.snapshot();
  assert.notEqual(second, first);
  assert.equal(second.assigned, 2);
  state.setConnection("disconnected");
  assert.equal(state.snapshot().connection.state, "disconnected");
});

Deno.test("BoardState - each grid's top is the exemplars, then the most confident, ties by id, as a full sort gives", () => {
  const rng = new Random(7);
  const top = 5;
  const state = new BoardState({ name: "t", topPerCluster: top });
  const members: { id: string; cluster: number; confidence: number }[] = [];
  for (let i = 0; i < 400; i++) {
    // Few distinct confidences, so that ties by id matter.
    const member = { id: id(i), cluster: i % 3, confidence: Math.round(rng.next() * 8) / 8 };
    members.push(member);
    state.applyAssignment(
      assignmentEvent({ ...member, path: `${i}.png`, modelVersion: 1, at: AT }),
    );
  }
  const exemplars = [[id(9), id(3)], [], [id(2)]];
  state.applyUpdate(clusterUpdateEvent({
    version: 1,
    at: AT,
    images: 400,
    sizes: [134, 133, 133],
    moved: [],
    exemplars,
    losses: {},
  }));
  for (const grid of state.snapshot().clusters) {
    const rest = members.filter((m) =>
      m.cluster === grid.cluster && !exemplars[grid.cluster].includes(m.id)
    ).sort((a, b) => b.confidence - a.confidence || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const expected = [...exemplars[grid.cluster], ...rest.map((m) => m.id)].slice(0, top);
    assert.deepEqual(grid.top.map((g) => g.id), expected, `cluster ${grid.cluster}`);
  }
});

Deno.test("BoardState - grids kept up to date incrementally match a full sort after assignments, moves and new exemplars", () => {
  const rng = new Random(11);
  const top = 4;
  const state = new BoardState({ name: "t", topPerCluster: top });
  const truth = new Map<string, { cluster: number; confidence: number }>();
  let exemplars: string[][] = [[], [], []];
  let next = 0;
  const check = (when: string) => {
    for (const grid of state.snapshot().clusters) {
      const ex = (exemplars[grid.cluster] ?? []).filter((e) =>
        truth.get(e)?.cluster === grid.cluster
      );
      const rest = [...truth].filter(([id, m]) => m.cluster === grid.cluster && !ex.includes(id))
        .sort(([a, x], [b, y]) => y.confidence - x.confidence || (a < b ? -1 : a > b ? 1 : 0))
        .map(([id]) => id);
      assert.deepEqual(
        grid.top.map((g) => g.id),
        [...ex, ...rest].slice(0, top),
        `${when}, cluster ${grid.cluster}`,
      );
    }
  };
  const assign = (count: number) => {
    for (let i = 0; i < count; i++) {
      const member = { cluster: rng.int(3), confidence: Math.round(rng.next() * 6) / 6 };
      const key = id(next++);
      truth.set(key, member);
      state.applyAssignment(
        assignmentEvent({ id: key, path: "p", modelVersion: 1, at: AT, ...member }),
      );
    }
  };
  assign(60);
  check("after assignments");
  for (let version = 2; version < 8; version++) {
    const ids = [...truth.keys()];
    const moved: { id: string; from: number; to: number }[] = [];
    for (let i = 0; i < 10; i++) {
      const key = ids[rng.int(ids.length)];
      const from = truth.get(key)!.cluster;
      const to = (from + 1 + rng.int(2)) % 3;
      if (moved.some((m) => m.id === key)) continue;
      moved.push({ id: key, from, to });
    }
    // Moving the grid's own members, too.
    for (const m of moved) truth.get(m.id)!.cluster = m.to;
    if (version % 3 === 0) exemplars = [[ids[rng.int(ids.length)]], [], [ids[rng.int(ids.length)]]];
    state.applyUpdate(clusterUpdateEvent({
      version,
      at: AT,
      images: truth.size,
      sizes: [0, 1, 2].map((c) => [...truth.values()].filter((m) => m.cluster === c).length),
      moved,
      exemplars,
      losses: {},
    }));
    check(`after update ${version}`);
    assign(5);
    check(`after assignments at ${version}`);
  }
});
