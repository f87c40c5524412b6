import assert from "node:assert/strict";
import { decodeTensor, encodeTensor } from "../../src/transport/tensor_codec.ts";

Deno.test("encodeTensor() round-trips float32, uint8 and int32 with shape and dtype headers", () => {
  const cases = [
    { data: new Float32Array([0, -1.5, 3.25, NaN, Infinity, -0, 1e-30, 65504]), shape: [2, 2, 2] },
    { data: new Uint8Array([0, 1, 127, 128, 255, 7]), shape: [1, 2, 3] },
    { data: new Int32Array([0, -1, 2 ** 31 - 1, -(2 ** 31), 42]), shape: [5] },
  ];
  for (const tensor of cases) {
    const { payload, headers } = encodeTensor(tensor);
    assert.equal(headers["scan-shape"], tensor.shape.join(","));
    assert.equal(payload.byteLength, tensor.data.byteLength);
    const back = decodeTensor(payload, headers);
    assert.deepEqual(back.shape, tensor.shape);
    assert.equal(back.data.constructor, tensor.data.constructor);
    assert.deepEqual(Array.from(back.data), Array.from(tensor.data));
  }
  assert.equal(encodeTensor(cases[0]).headers["scan-dtype"], "float32");
  assert.equal(encodeTensor(cases[1]).headers["scan-dtype"], "uint8");
  assert.equal(encodeTensor(cases[2]).headers["scan-dtype"], "int32");
});

Deno.test("encodeTensor() writes little-endian bytes", () => {
  const { payload } = encodeTensor({ data: new Float32Array([1, -2]), shape: [2] });
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  assert.equal(view.getFloat32(0, true), 1);
  assert.equal(view.getFloat32(4, true), -2);
  assert.deepEqual(
    Array.from(encodeTensor({ data: new Int32Array([0x01020304]), shape: [1] }).payload),
    [4, 3, 2, 1],
  );
});

Deno.test("decodeTensor() reads a payload at an unaligned offset inside a larger buffer", () => {
  const values = [1.5, -2.25, 1e6, 3];
  const frame = new Uint8Array(3 + values.length * 4 + 5).fill(0xee);
  const le = new DataView(frame.buffer, 3);
  values.forEach((v, i) => le.setFloat32(i * 4, v, true));
  const payload = frame.subarray(3, 3 + values.length * 4);
  const out = decodeTensor(payload, { "scan-shape": "2,2", "scan-dtype": "float32" });
  assert.deepEqual(Array.from(out.data), values);
  frame.fill(0);
  assert.deepEqual(Array.from(out.data), values, "the result must not alias the frame");

  const ints = new Uint8Array(1 + 8);
  new DataView(ints.buffer, 1).setInt32(4, -7, true);
  assert.deepEqual(
    Array.from(decodeTensor(ints.subarray(1), { "scan-shape": "2", "scan-dtype": "int32" }).data),
    [0, -7],
  );
});

Deno.test("encodeTensor() encodes a subarray view, not its whole buffer", () => {
  const whole = new Float32Array([9, 1, 2, 3, 9]);
  const { payload, headers } = encodeTensor({ data: whole.subarray(1, 4), shape: [3] });
  assert.equal(payload.byteLength, 12);
  assert.deepEqual(Array.from(decodeTensor(payload, headers).data), [1, 2, 3]);
  whole[1] = 100;
  assert.deepEqual(Array.from(decodeTensor(payload, headers).data), [1, 2, 3]);
});

Deno.test("decodeTensor() accepts canonicalised header names and empty shapes", () => {
  const { payload } = encodeTensor({ data: new Float32Array([4]), shape: [] });
  const out = decodeTensor(payload, { "Scan-Shape": "", "Scan-Dtype": "float32" });
  assert.deepEqual(out.shape, []);
  assert.deepEqual(Array.from(out.data), [4]);
});

Deno.test("encodeTensor() and decodeTensor() refuse mismatched sizes and bad headers", () => {
  assert.throws(
    () => encodeTensor({ data: new Float32Array(5), shape: [2, 3] }),
    /shape \[2,3\] holds 6 elements, but data has 5/,
  );
  assert.throws(() => encodeTensor({ data: new Float32Array(1), shape: [1.5] }), RangeError);
  assert.throws(
    () => encodeTensor({ data: new Float64Array(1) as unknown as Float32Array, shape: [1] }),
    TypeError,
  );
  const payload = new Uint8Array(8);
  assert.throws(
    () => decodeTensor(payload, { "scan-shape": "3", "scan-dtype": "float32" }),
    /needs 12 bytes, but the payload has 8/,
  );
  assert.throws(() => decodeTensor(payload, { "scan-shape": "2" }), /scan-dtype must be one of/);
  assert.throws(
    () => decodeTensor(payload, { "scan-shape": "2", "scan-dtype": "toString" }),
    TypeError,
  );
  assert.throws(() => decodeTensor(payload, { "scan-dtype": "uint8" }), /header is missing/);
  assert.throws(
    () => decodeTensor(payload, { "scan-shape": "2,x", "scan-dtype": "uint8" }),
    RangeError,
  );
});
