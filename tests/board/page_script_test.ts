import assert from "node:assert/strict";
import { boardPage, PAGE_SCRIPT } from "../../src/board/page_script.ts";

Deno.test("PAGE_SCRIPT is boardPage's compiled source, a plain script that calls it once", () => {
  // Parses as a classic script (what a <script src> is); `new Function` throws on a syntax error.
  new Function(PAGE_SCRIPT);
  assert.ok(PAGE_SCRIPT.includes(boardPage.toString()));
  assert.match(PAGE_SCRIPT, /^"use strict";\n\(function boardPage\(\) \{/);
  assert.match(PAGE_SCRIPT, /\}\)\(\);\n$/);
  // The types compiled away: no import, export or annotation reached the browser.
  assert.doesNotMatch(
    PAGE_SCRIPT,
    /\bimport\b|\bexport\b|\(id: string\)|as HTML\w*Element|<T extends/,
  );
});
