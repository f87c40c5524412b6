/**
 * How often mined neighbours share their anchor's class: the quality check of the mining step
 * reported in the SCAN paper (official `mine_nearest_neighbors(..., calculate_accuracy=True)`).
 * Only for runs with ground truth; it never steers training.
 */

/**
 * Fraction of (anchor, neighbour) pairs with the same label, over every list entry except the
 * anchor itself (which the official code drops as column 0 of its top-(K+1) search).
 *
 * @param indices `n * k` neighbour lists, row-major, as from `mineNeighbours`.
 * @param k list length.
 * @param labels the class of each of the n images.
 * @returns a value in [0, 1].
 * @throws {RangeError} when the sizes do not fit or no list holds another image.
 */
export function neighbourAccuracy(
  indices: ArrayLike<number>,
  k: number,
  labels: ArrayLike<number>,
): number {
  const fraction = sameValueFraction(labels, indices, k, "neighbour accuracy");
  if (Number.isNaN(fraction)) {
    throw new RangeError(
      "Cannot measure neighbour accuracy: no list holds an image other than its anchor",
    );
  }
  return fraction;
}

/**
 * Fraction of (anchor, neighbour) pairs whose `values` are equal (labels for the neighbours'
 * accuracy, clusters for their agreement), every list entry but the anchor itself counted.
 *
 * @param values one value per image (n of them).
 * @param indices `n * k` neighbour lists, row-major.
 * @param measure what is measured, for the error messages.
 * @returns a value in [0, 1]; NaN when no list holds another image.
 * @throws {RangeError} when the sizes do not fit or an index is outside [0, n).
 */
export function sameValueFraction(
  values: ArrayLike<number>,
  indices: ArrayLike<number>,
  k: number,
  measure: string,
): number {
  const n = values.length;
  if (!Number.isInteger(k) || k < 1 || indices.length !== n * k) {
    throw new RangeError(
      `Cannot measure ${measure}: expected ${n} lists of k = ${k} indices, ` +
        `current length is ${indices.length}`,
    );
  }
  let pairs = 0;
  let agreeing = 0;
  for (let anchor = 0; anchor < n; anchor++) {
    for (let entry = anchor * k; entry < (anchor + 1) * k; entry++) {
      const neighbour = indices[entry];
      if (!(Number.isInteger(neighbour) && neighbour >= 0 && neighbour < n)) {
        throw new RangeError(
          `Cannot measure ${measure}: indices must be in [0, ${n}), ` +
            `current value in the list of ${anchor} is ${neighbour}`,
        );
      }
      if (neighbour === anchor) continue;
      pairs++;
      if (values[neighbour] === values[anchor]) agreeing++;
    }
  }
  return pairs > 0 ? agreeing / pairs : NaN;
}
