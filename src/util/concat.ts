/** Joining the per-batch arrays that inference and encoders produce into one. */

/** The parts, end to end, in one new Float32Array. */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  copyInto(out, parts);
  return out;
}

/** The parts, end to end, in one new Uint8Array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  copyInto(out, parts);
  return out;
}

function copyInto<T extends Float32Array | Uint8Array>(out: T, parts: readonly T[]): void {
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
}

/** The rows at `indices` of a row-major `[n, dim]` array, in that order. */
export function takeRows(
  data: Float32Array,
  dim: number,
  indices: readonly number[],
): Float32Array {
  const out = new Float32Array(indices.length * dim);
  indices.forEach((i, r) => out.set(data.subarray(i * dim, (i + 1) * dim), r * dim));
  return out;
}
