import assert from "node:assert/strict";
import {
  assignmentEvent,
  clusterUpdateEvent,
  decodeEvent,
  diffAssignments,
  encodeEvent,
  exemplars,
  labelEvent,
  modelVersionEvent,
  refusalEvent,
} from "../../src/stream/events.ts";

const AT = "2026-01-02T03:04:05.000Z";

Deno.test("assignmentEvent() checks its fields and survives encoding", () => {
  const event = assignmentEvent({
    id: "ab12",
    path: "in/cat.png",
    cluster: 3,
    confidence: 0.75,
    modelVersion: 2,
    at: AT,
  });
  assert.deepEqual(event, {
    id: "ab12",
    path: "in/cat.png",
    cluster: 3,
    confidence: 0.75,
    modelVersion: 2,
    at: AT,
  });
  assert.ok(Object.isFrozen(event));
  assert.deepEqual(decodeEvent(encodeEvent(event), assignmentEvent), event);
  const fields = { id: "a", path: "p", cluster: 0, confidence: 1, modelVersion: 0 };
  assert.ok(!Number.isNaN(Date.parse(assignmentEvent(fields).at)), "at defaults to now");
  assert.throws(() => assignmentEvent({ ...fields, cluster: -1 }), {
    name: "RangeError",
    message:
      "Cannot create assignment event: cluster must be an integer in [0, 65536), current value is -1",
  });
  assert.throws(() => assignmentEvent({ ...fields, confidence: 1.5 }), /confidence must be in/);
  assert.throws(() => assignmentEvent({ ...fields, confidence: NaN }), /must be finite/);
  assert.throws(() => assignmentEvent({ ...fields, id: "" }), TypeError);
  assert.throws(() => assignmentEvent({ ...fields, at: "yesterday" }), /ISO 8601/);
  assert.throws(() => assignmentEvent({ ...fields, modelVersion: "1" as never }), TypeError);
});

Deno.test("decodeEvent() refuses payloads that are not a valid event", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  assert.throws(() => decodeEvent(bytes("{"), refusalEvent), /not JSON/);
  assert.throws(() => decodeEvent(bytes("[1]"), refusalEvent), /must be a JSON object/);
  assert.throws(() => decodeEvent(bytes('{"path":"x"}'), refusalEvent), /reason must be/);
  const refusal = refusalEvent({ path: "bad.png", reason: "not an image", at: AT });
  assert.deepEqual(decodeEvent(encodeEvent(refusal), refusalEvent), refusal);
});

Deno.test("clusterUpdateEvent() checks sizes, moves, exemplars, losses and metrics", () => {
  const fields = {
    version: 4,
    at: AT,
    sizes: [2, 1],
    moved: [{ id: "x", from: 1, to: 0 }],
    exemplars: [["x", "y"], ["z"]],
    losses: { consistency: 0.4, entropy: 0.69, total: -3.05 },
    images: 3,
    accuracy: 0.9,
    ari: -0.1,
  };
  const event = clusterUpdateEvent(fields);
  assert.deepEqual(event, fields);
  assert.ok(!("nmi" in event) && !("pretext" in event.losses));
  assert.deepEqual(decodeEvent(encodeEvent(event), clusterUpdateEvent), event);
  assert.throws(
    () => clusterUpdateEvent({ ...fields, moved: [{ id: "x", from: 2, to: 0 }] }),
    /moved\[0\]\.from must be an integer in \[0, 2\)/,
  );
  assert.throws(() => clusterUpdateEvent({ ...fields, exemplars: [["x"]] }), /one list per/);
  assert.throws(() => clusterUpdateEvent({ ...fields, exemplars: [["x"], [""]] }), TypeError);
  assert.throws(
    () => clusterUpdateEvent({ ...fields, losses: { total: Infinity } }),
    /losses\.total must be finite/,
  );
  assert.throws(() => clusterUpdateEvent({ ...fields, nmi: 1.2 }), /nmi must be in \[0, 1\]/);
  assert.throws(() => clusterUpdateEvent({ ...fields, sizes: [1.5, 1] }), /sizes\[0\]/);
});

Deno.test("labelEvent() and modelVersionEvent() check their fields", () => {
  const labels = labelEvent({
    modelVersion: 1,
    at: AT,
    threshold: 0.99,
    labels: [{ id: "a", cluster: 2, confidence: 0.995 }],
  });
  assert.equal(labels.labels[0].cluster, 2);
  assert.throws(
    () => labelEvent({ ...labels, labels: [{ id: "a", cluster: 2, confidence: 0.98 }] }),
    /labels\[0\]\.confidence must be above the threshold 0.99/,
  );
  const version = modelVersionEvent({
    version: 7,
    checkpoint: "models/v7",
    head: 2,
    clusters: 10,
    backboneChanged: true,
    images: 1200,
    at: AT,
  });
  assert.deepEqual(decodeEvent(encodeEvent(version), modelVersionEvent), version);
  assert.throws(() => modelVersionEvent({ ...version, clusters: 0 }), /clusters must be positive/);
  assert.throws(() => modelVersionEvent({ ...version, backboneChanged: 1 as never }), /boolean/);
});

Deno.test("diffAssignments() lists the images that moved and the new sizes", () => {
  const previous = new Map([["a", 0], ["b", 1], ["c", 1], ["gone", 2]]);
  const next = new Map([["c", 2], ["a", 0], ["b", 0], ["new", 2]]);
  assert.deepEqual(diffAssignments(previous, next, 4), {
    moved: [{ id: "c", from: 1, to: 2 }, { id: "b", from: 1, to: 0 }],
    sizes: [2, 0, 2, 0],
    added: 1,
    removed: 1,
  });
  assert.deepEqual(diffAssignments(new Map(), next).sizes, [2, 0, 2]);
  assert.deepEqual(diffAssignments(new Map(), new Map()), {
    moved: [],
    sizes: [],
    added: 0,
    removed: 0,
  });
  assert.throws(() => diffAssignments(previous, next, 2), /previous cluster ids .* gone is 2/);
});

Deno.test("exemplars() picks the most confident images of each cluster", () => {
  const assignments = new Map([["a", 0], ["b", 0], ["c", 1], ["d", 0], ["e", 0], ["f", 0]]);
  const confidences = new Map([["a", 0.5], ["b", 0.9], ["c", 0.7], ["d", 0.9], ["e", 0.99]]);
  assert.deepEqual(exemplars(assignments, confidences, 3, 3), [["e", "b", "d"], ["c"], []]);
  assert.deepEqual(exemplars(assignments, confidences, 3)[0], ["e", "b", "d", "a", "f"]);
  assert.deepEqual(exemplars(assignments, confidences, 3, 0), [[], [], []]);
  assert.throws(() => exemplars(assignments, confidences, 1), /current value of b is 0|of c is 1/);
  assert.throws(() => exemplars(assignments, confidences, 2, -1), /perCluster/);
});
