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
  const n = labels.length;
  if (!Number.isInteger(k) || k < 1 || indices.length !== n * k) {
    throw new RangeError(
      `Cannot measure neighbour accuracy: expected ${n} lists of k = ${k} indices, ` +
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
          `Cannot measure neighbour accuracy: indices must be in [0, ${n}), ` +
            `current value in the list of ${anchor} is ${neighbour}`,
        );
      }
      if (neighbour === anchor) continue;
      pairs++;
      if (labels[neighbour] === labels[anchor]) agreeing++;
    }
  }
  if (pairs === 0) {
    throw new RangeError(
      "Cannot measure neighbour accuracy: no list holds an image other than its anchor",
    );
  }
  return agreeing / pairs;
}
