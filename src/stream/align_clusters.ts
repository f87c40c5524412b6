/**
 * Stable cluster ids across model versions. A retrained head numbers its clusters arbitrarily;
 * matching the new clusters to the previous ones by the images they share (Hungarian, maximum
 * overlap) lets a cluster keep its id, so subscribers see images move between clusters rather
 * than every cluster being renamed.
 */
import { hungarian } from "../eval/hungarian.ts";

/**
 * The relabelling of a new assignment that agrees most with the previous one: `permutation[c]`
 * is the stable id of new cluster `c`, chosen to maximise the number of shared images that keep
 * their cluster id. Images without a previous (or new) assignment (-1), and images past the end
 * of `previous` (they arrived since), do not count. Among equally good matchings a cluster keeps
 * its own id where it can, so with no overlap at all the permutation is the identity.
 *
 * @param previous stable cluster id per image, -1 where unknown.
 * @param next new cluster id per image, -1 where unknown; at least as long as `previous`.
 * @param clusters number of clusters C; ids are in [0, C).
 * @returns a permutation of [0, C): new id -> stable id.
 * @throws {RangeError} when `clusters` is not a positive integer, `next` is shorter than
 *   `previous`, or an id is outside [-1, C).
 */
export function alignClusters(
  previous: Int32Array,
  next: Int32Array,
  clusters: number,
): Int32Array {
  if (!Number.isInteger(clusters) || clusters < 1) {
    throw new RangeError(
      `Cannot align clusters: clusters must be a positive integer, current value is ${clusters}`,
    );
  }
  if (next.length < previous.length) {
    throw new RangeError(
      `Cannot align clusters: the new assignment must cover every previously assigned image, ` +
        `current lengths are ${next.length} (new) and ${previous.length} (previous)`,
    );
  }
  checkIds(previous, clusters, "align clusters", "previous cluster ids");
  checkIds(next, clusters, "align clusters", "new cluster ids");
  const overlap = Array.from({ length: clusters }, () => new Float64Array(clusters));
  for (let i = 0; i < previous.length; i++) {
    if (previous[i] >= 0 && next[i] >= 0) overlap[next[i]][previous[i]]++;
  }
  // One shared image outweighs every kept id together (at most C points), so keeping ids only
  // breaks ties and never costs a shared image.
  const scale = clusters + 1;
  const cost = overlap.map((row, c) =>
    Array.from(row, (shared, stable) => -(shared * scale + (c === stable ? 1 : 0)))
  );
  return Int32Array.from(hungarian(cost));
}

/**
 * Relabel an assignment: `permutation[a]` for each id `a`, -1 kept.
 *
 * @throws {RangeError} when `permutation` is not a permutation of [0, C) or an id is outside
 *   [-1, C).
 */
export function applyAlignment(assignments: Int32Array, permutation: Int32Array): Int32Array {
  const clusters = permutation.length;
  const seen = new Uint8Array(clusters);
  for (const stable of permutation) {
    if (!(Number.isInteger(stable) && stable >= 0 && stable < clusters) || seen[stable]) {
      throw new RangeError(
        `Cannot apply cluster alignment: it must be a permutation of [0, ${clusters}), ` +
          `current value is [${permutation.join(", ")}]`,
      );
    }
    seen[stable] = 1;
  }
  checkIds(assignments, clusters, "apply cluster alignment", "cluster ids");
  return assignments.map((a) => (a < 0 ? -1 : permutation[a]));
}

function checkIds(ids: Int32Array, clusters: number, action: string, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < -1 || ids[i] >= clusters) {
      throw new RangeError(
        `Cannot ${action}: ${what} must be in [-1, ${clusters}), ` +
          `current value of image ${i} is ${ids[i]}`,
      );
    }
  }
}
