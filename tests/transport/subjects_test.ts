import assert from "node:assert/strict";
import {
  durableSubjects,
  streamName,
  subjectMatches,
  subjects,
  validatePipelineName,
} from "../../src/transport/subjects.ts";

Deno.test("subjects() builds scan.<pipeline>.<kind> for every kind", () => {
  assert.deepEqual({ ...subjects("demo-1_a") }, {
    images: "scan.demo-1_a.images",
    embeddings: "scan.demo-1_a.embeddings",
    neighbours: "scan.demo-1_a.neighbours",
    assignments: "scan.demo-1_a.assignments",
    clusters: "scan.demo-1_a.clusters",
    labels: "scan.demo-1_a.labels",
    errors: "scan.demo-1_a.errors",
    classify: "scan.demo-1_a.classify",
    models: "scan.demo-1_a.models",
  });
  assert.ok(Object.isFrozen(subjects("demo")));
});

Deno.test("validatePipelineName() refuses names that would break a subject or stream name", () => {
  for (const bad of ["", "a.b", "a*", "a>", "a b", "a\tb", "tab\n", "é", "a/b", "a:b"]) {
    assert.throws(() => validatePipelineName(bad), RangeError, JSON.stringify(bad));
    assert.throws(() => subjects(bad), RangeError);
  }
  assert.throws(() => validatePipelineName("a.b"), /only letters, digits, '_' and '-'.*"a\.b"/);
  assert.throws(() => validatePipelineName(""), /must not be empty/);
  assert.throws(() => validatePipelineName(undefined as unknown as string), TypeError);
  assert.equal(validatePipelineName("Fashion_MNIST-2"), "Fashion_MNIST-2");
});

Deno.test("durableSubjects() keeps every subject but classify", () => {
  const s = subjects("p");
  const kept = durableSubjects("p");
  assert.equal(kept.length, 7);
  assert.ok(!kept.includes(s.classify));
  for (const x of [s.images, s.assignments, s.clusters, s.labels, s.errors]) {
    assert.ok(kept.includes(x));
  }
  assert.equal(streamName("p"), "SCAN_p");
});

Deno.test("subjectMatches() follows NATS wildcards", () => {
  assert.ok(subjectMatches("scan.p.images", "scan.p.images"));
  assert.ok(!subjectMatches("scan.p.images", "scan.p.image"));
  assert.ok(subjectMatches("scan.*.images", "scan.p.images"));
  assert.ok(!subjectMatches("scan.*", "scan.p.images"));
  assert.ok(subjectMatches("scan.>", "scan.p.images"));
  assert.ok(!subjectMatches("scan.p.>", "scan.p"));
  assert.ok(!subjectMatches("scan.p.images.x", "scan.p.images"));
});
