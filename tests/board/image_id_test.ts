import assert from "node:assert/strict";
import { isImageId } from "../../src/board/image_id.ts";
import { imageId } from "./_helpers.ts";

Deno.test("isImageId() accepts a SHA-256 hex digest", async () => {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode("an image")),
  );
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(isImageId(hex), true);
  assert.equal(isImageId(imageId(7)), true);
});

Deno.test("isImageId() refuses paths, traversal, wrong length, upper case and separators", () => {
  for (
    const value of [
      "",
      "../../etc/passwd",
      "..%2F..%2Fetc%2Fpasswd",
      "a".repeat(63),
      "a".repeat(65),
      "A".repeat(64),
      "g".repeat(64),
      `${"a".repeat(63)}/`,
      `${"a".repeat(64)}\n`,
      `/${"a".repeat(64)}`,
    ]
  ) {
    assert.equal(isImageId(value), false, JSON.stringify(value));
  }
});
