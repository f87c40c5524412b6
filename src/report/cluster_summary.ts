/**
 * What a person needs to judge each cluster: its size, how sure the model is about it, its
 * members from most to least confident (the contact sheet shows the first ones) and, where
 * ground truth exists, its majority class and purity.
 */

/** One cluster's summary. */
export interface ClusterSummary {
  readonly cluster: number;
  readonly size: number;
  /** Mean of the members' confidences (max softmax probability); null for an empty cluster. */
  readonly meanConfidence: number | null;
  /** Member image indices, most confident first; ties keep index order. */
  readonly members: readonly number[];
  /**
   * Most frequent class among the members with a label (label >= 0), and the fraction of those
   * members it covers; absent without labels or when no member has one.
   */
  readonly majority?: { readonly label: number; readonly count: number; readonly purity: number };
}

/**
 * Summarise every cluster id in [0, clusters), empty ones included.
 *
 * @param assignments cluster id per image, length n.
 * @param confidence confidence per image, length n.
 * @param labels class per image (-1 where unknown), length n; only for reporting.
 * @throws {RangeError} on mismatched lengths or a cluster id outside [0, clusters).
 */
export function summarizeClusters(
  assignments: ArrayLike<number>,
  confidence: ArrayLike<number>,
  clusters: number,
  labels?: ArrayLike<number>,
): ClusterSummary[] {
  const n = assignments.length;
  if (confidence.length !== n || (labels && labels.length !== n)) {
    throw new RangeError(
      "Cannot summarise clusters: assignments, confidence and labels must have the same length, " +
        `current lengths are ${n}, ${confidence.length}` + (labels ? ` and ${labels.length}` : ""),
    );
  }
  const members: number[][] = Array.from({ length: clusters }, () => []);
  for (let i = 0; i < n; i++) {
    const c = assignments[i];
    if (!(Number.isInteger(c) && c >= 0 && c < clusters)) {
      throw new RangeError(
        `Cannot summarise clusters: cluster ids must be integers in [0, ${clusters}), ` +
          `current value at ${i} is ${c}`,
      );
    }
    members[c].push(i);
  }
  return members.map((indices, cluster) => {
    const sorted = [...indices].sort((a, b) => confidence[b] - confidence[a] || a - b);
    const total = indices.reduce((sum, i) => sum + confidence[i], 0);
    const summary: ClusterSummary = {
      cluster,
      size: indices.length,
      meanConfidence: indices.length > 0 ? total / indices.length : null,
      members: sorted,
    };
    const majority = labels ? majorityOf(indices, labels) : undefined;
    return majority ? { ...summary, majority } : summary;
  });
}

function majorityOf(indices: number[], labels: ArrayLike<number>) {
  const counts = new Map<number, number>();
  let labelled = 0;
  for (const i of indices) {
    if (labels[i] < 0) continue;
    labelled++;
    counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  }
  if (labelled === 0) return undefined;
  let best = { label: -1, count: 0 };
  // Ties go to the smaller class index, so the report is deterministic.
  for (const [label, count] of counts) {
    if (count > best.count || (count === best.count && label < best.label)) best = { label, count };
  }
  return { ...best, purity: best.count / labelled };
}
