/**
 * How well a clustering keeps the mined neighbourhoods: the fraction of (image, mined neighbour)
 * pairs, the image itself excluded, that fall in one cluster. SCAN's consistency term rewards
 * exactly this; it needs no labels. The same count as the neighbours' accuracy, over clusters
 * instead of labels.
 */
import { sameValueFraction } from "../mining/neighbour_accuracy.ts";

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
  return sameValueFraction(clusters, indices, k, "neighbour agreement");
}
