/**
 * How well a clustering keeps the mined neighbourhoods: the fraction of (image, mined neighbour)
 * pairs, the image itself excluded, that fall in one cluster. SCAN's consistency term rewards
 * exactly this; it needs no labels.
 */

/**
 * Agreement of `clusters` (one per image) with neighbour lists `indices` [n, k].
 *
 * @returns a fraction in [0, 1]; NaN when no list holds another image.
 * @throws {RangeError} when the lists do not fit the clusters.
 */
export function neighbourAgreement(
  clusters: ArrayLike<number>,
  indices: ArrayLike<number>,
  k: number,
): number {
  const n = clusters.length;
  if (!(Number.isInteger(k) && k >= 1) || indices.length !== n * k) {
    throw new RangeError(
      `Cannot measure neighbour agreement: expected ${n} lists of k = ${k} neighbours, ` +
        `current length is ${indices.length}`,
    );
  }
  let agree = 0;
  let pairs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const other = indices[i * k + j];
      if (other === i) continue;
      if (!(other >= 0 && other < n)) {
        throw new RangeError(
          `Cannot measure neighbour agreement: neighbour indices must be in [0, ${n}), ` +
            `current value at list ${i} is ${other}`,
        );
      }
      pairs++;
      if (clusters[other] === clusters[i]) agree++;
    }
  }
  return pairs > 0 ? agree / pairs : NaN;
}
