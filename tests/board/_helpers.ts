/** Ids and events for the board's tests. */
import {
  type AssignmentEvent,
  assignmentEvent,
  type ClusterUpdateEvent,
  clusterUpdateEvent,
  type Move,
} from "../../src/stream/events.ts";

/** A well-formed image id (64 hex digits) numbered `n`. */
export function imageId(n: number): string {
  return n.toString(16).padStart(64, "0");
}

/** An assignment of image `n`. */
export function assigned(n: number, cluster: number, confidence = 0.5, modelVersion = 1) {
  return assignmentEvent({
    id: imageId(n),
    path: `img_${n}.png`,
    cluster,
    confidence,
    modelVersion,
  }) as AssignmentEvent;
}

/** A cluster update with `moved` and, optionally, metrics. */
export function update(
  version: number,
  sizes: number[],
  moved: Move[] = [],
  metrics: { accuracy?: number; nmi?: number; ari?: number } = {},
  exemplars: string[][] = sizes.map(() => []),
): ClusterUpdateEvent {
  return clusterUpdateEvent({
    version,
    sizes,
    moved,
    exemplars,
    losses: { pretext: 4.2, total: -8, consistency: 1, entropy: 1.7 },
    images: sizes.reduce((a, b) => a + b, 0),
    ...metrics,
  });
}
