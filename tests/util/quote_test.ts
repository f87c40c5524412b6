import assert from "node:assert/strict";
import { printable, quote } from "../../src/util/quote.ts";

Deno.test("printable() escapes every control character and keeps the rest", () => {
  assert.equal(printable("a b ü 猫.png"), "a b ü 猫.png");
  assert.equal(printable("x.png\nrefused y.png"), "x.png\\nrefused y.png");
  assert.equal(
    printable("\r\t\u0000\u001b[2J\u007f\u009b\u2028"),
    "\\r\\t\\u0000\\u001b[2J\\u007f\\u009b\\u2028",
  );
  for (let code = 0; code < 0x2030; code++) {
    const out = printable(String.fromCharCode(code));
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 ||
      code === 0x2029;
    assert.equal(out.length > 1, control, `U+${code.toString(16)}`);
  }
});

Deno.test("quote() delimits a name unambiguously", () => {
  assert.equal(quote('a "b".png'), '"a \\"b\\".png"');
  assert.equal(quote("back\\slash\n.png"), '"back\\\\slash\\n.png"');
  assert.equal(quote(""), '""');
});
