import assert from "node:assert/strict";
import { chooseFinalModel } from "../../src/run/final_model.ts";

Deno.test("chooseFinalModel() keeps self-labelling only when it keeps the neighbourhoods", () => {
  assert.deepEqual(chooseFinalModel(0.89, 0.86), {
    stage: "scan",
    agreement: { scan: 0.89, selflabel: 0.86 },
  });
  assert.equal(chooseFinalModel(0.86, 0.89)?.stage, "selflabel");
  // A tie (self-labelling that changed nothing) keeps the paper's last stage.
  assert.equal(chooseFinalModel(0.9, 0.9)?.stage, "selflabel");
  assert.equal(chooseFinalModel(NaN, 0.9), null);
});
