import assert from "node:assert/strict";
import { SANITIZE } from "./_helpers.ts";
import { isCandidate, isSkippedName, isVisiblePath } from "../../src/ingest/candidate.ts";

Deno.test({
  name: "isCandidate() takes visible image names and skips hidden and temporary ones",
  ...SANITIZE,
}, () => {
  for (const path of ["a.png", "sub/B.JPG", "with space.gif", "ünï/猫.jpeg", "new\nline.png"]) {
    assert.ok(isCandidate(path), path);
  }
  for (
    const path of [
      "a.png.part",
      "a.png.tmp",
      "a.png.crdownload",
      "a.png~",
      ".a.png",
      ".cache/a.png",
      "x.tmp/a.png",
      "notes.txt",
      "",
    ]
  ) {
    assert.ok(!isCandidate(path), path);
  }
  assert.ok(isSkippedName(".DS_Store"));
  assert.ok(isVisiblePath("folder"));
  assert.ok(!isVisiblePath("a/.git/b"));
});
