/**
 * Tensors on the wire: raw little-endian element bytes as the payload, shape and dtype in
 * headers (`scan-shape: 64,32,32,3`, `scan-dtype: float32`). JSON would be several times larger
 * and lose float32 bits.
 */

/** The element types that travel. */
export type WireDtype = "float32" | "uint8" | "int32";

/** A tensor as plain data: `data.length` is the product of `shape`. */
export interface WireTensor {
  data: Float32Array | Uint8Array | Int32Array;
  shape: readonly number[];
}

/** Header names of the codec. */
export const SHAPE_HEADER = "scan-shape";
export const DTYPE_HEADER = "scan-dtype";

const BYTES_PER_ELEMENT: Record<WireDtype, number> = { float32: 4, uint8: 1, int32: 4 };

const PLATFORM_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dtypeOf(data: WireTensor["data"]): WireDtype {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Uint8Array) return "uint8";
  throw new TypeError(
    "Cannot encode tensor: data must be a Float32Array, Int32Array or Uint8Array, current " +
      `value is ${Object.prototype.toString.call(data)}`,
  );
}

function checkShape(action: string, shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(
        `Cannot ${action}: shape must hold non-negative integers, current value is [${shape}]`,
      );
    }
    size *= d;
  }
  return size;
}

/**
 * Encode a tensor as little-endian bytes (copied, so later writes to `data` do not reach the
 * message) plus `scan-shape` and `scan-dtype` headers.
 *
 * @throws {RangeError} when `data.length` is not the product of `shape`.
 */
export function encodeTensor(tensor: WireTensor): {
  payload: Uint8Array;
  headers: Record<string, string>;
} {
  const { data, shape } = tensor;
  const dtype = dtypeOf(data);
  const size = checkShape("encode tensor", shape);
  if (size !== data.length) {
    throw new RangeError(
      `Cannot encode tensor: shape [${shape}] holds ${size} elements, but data has ${data.length}`,
    );
  }
  const payload = new Uint8Array(data.byteLength);
  if (PLATFORM_LITTLE_ENDIAN || dtype === "uint8") {
    payload.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else {
    const view = new DataView(payload.buffer);
    for (let i = 0; i < data.length; i++) {
      if (dtype === "float32") view.setFloat32(i * 4, data[i], true);
      else view.setInt32(i * 4, data[i], true);
    }
  }
  return { payload, headers: { [SHAPE_HEADER]: shape.join(","), [DTYPE_HEADER]: dtype } };
}

/** Header lookup ignoring case: some hops canonicalise names (`Scan-Shape`). */
function header(headers: Record<string, string>, name: string): string | undefined {
  if (name in headers) return headers[name];
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

function parseShape(text: string | undefined): number[] {
  if (text === undefined) {
    throw new TypeError(`Cannot decode tensor: the ${SHAPE_HEADER} header is missing`);
  }
  const shape = text.trim() === "" ? [] : text.split(",").map((d) => Number(d.trim()));
  checkShape("decode tensor", shape);
  return shape;
}

/**
 * Decode a payload made by `encodeTensor`. The result owns its memory: `payload` may be a view
 * into a larger receive buffer at any byte offset, so it is copied rather than aliased.
 *
 * @throws {TypeError} when a header is missing or names an unknown dtype.
 * @throws {RangeError} when the payload size does not match shape and dtype.
 */
export function decodeTensor(
  payload: Uint8Array,
  headers: Record<string, string>,
): { data: Float32Array | Uint8Array | Int32Array; shape: number[]; dtype: WireDtype } {
  const dtype = header(headers, DTYPE_HEADER) ?? "";
  if (!Object.hasOwn(BYTES_PER_ELEMENT, dtype)) {
    throw new TypeError(
      `Cannot decode tensor: ${DTYPE_HEADER} must be one of float32, uint8, int32, current ` +
        `value is ${dtype}`,
    );
  }
  const wireDtype = dtype as WireDtype;
  const shape = parseShape(header(headers, SHAPE_HEADER));
  const size = shape.reduce((a, b) => a * b, 1);
  const expected = size * BYTES_PER_ELEMENT[wireDtype];
  if (payload.byteLength !== expected) {
    throw new RangeError(
      `Cannot decode tensor: shape [${shape}] of ${wireDtype} needs ${expected} bytes, but the ` +
        `payload has ${payload.byteLength}`,
    );
  }
  if (wireDtype === "uint8") return { data: payload.slice(), shape, dtype: wireDtype };
  const data = wireDtype === "float32" ? new Float32Array(size) : new Int32Array(size);
  if (PLATFORM_LITTLE_ENDIAN) {
    new Uint8Array(data.buffer).set(payload);
  } else {
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    for (let i = 0; i < size; i++) {
      data[i] = wireDtype === "float32" ? view.getFloat32(i * 4, true) : view.getInt32(i * 4, true);
    }
  }
  return { data, shape, dtype: wireDtype };
}
