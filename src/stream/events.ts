/**
 * The events the stream publishes on its subjects (DESIGN.md, "Stages, subjects, events"), as
 * plain JSON objects. Each has a constructor that checks every field, so a malformed event is
 * refused where it is made, and the same constructor checks an event a subscriber decoded.
 * Tensors (features, pixels) do not travel here: they go as raw bytes with the tensor codec.
 */

import {
  type AssignmentEvent,
  assignmentSchema,
  type ClusterUpdateEvent,
  clusterUpdateSchema,
  type LabelEvent,
  labelSchema,
  type ModelVersionEvent,
  modelVersionSchema,
  type Move,
  type RefusalEvent,
  refusalSchema,
} from "../protocol/events.ts";
import { parse, shown } from "../protocol/parse.ts";

/** When something happened: an ISO 8601 UTC timestamp. */
export type Timestamp = string;

// The event types come from their schemas in src/protocol/events.ts (one definition).
export type {
  AssignmentEvent,
  ClusterUpdateEvent,
  LabelEvent,
  ModelVersionEvent,
  Move,
  PseudoLabel,
  RefusalEvent,
  RoundLosses,
} from "../protocol/events.ts";

/** Fields of an event; `at` defaults to now. */
type Fields<T extends { at: Timestamp }> = Omit<T, "at"> & { at?: Timestamp };

/**
 * An assignment event, checked.
 *
 * @throws {TypeError} when a field has the wrong type.
 * @throws {RangeError} when a value is out of range (negative cluster, confidence outside [0, 1]).
 */
export function assignmentEvent(fields: Fields<AssignmentEvent>): AssignmentEvent {
  return parse(assignmentSchema(), fields, "assignment event", "create");
}

/**
 * A refusal event, checked.
 *
 * @throws {TypeError} when a field has the wrong type or is empty.
 */
export function refusalEvent(fields: Fields<RefusalEvent>): RefusalEvent {
  return parse(refusalSchema(), fields, "refusal event", "create");
}

/**
 * A cluster update event, checked: one size and one exemplar list per cluster, moves between
 * existing clusters, finite losses, metrics in range.
 *
 * @throws {TypeError} when a field has the wrong type.
 * @throws {RangeError} when a value is out of range or the per-cluster lists differ in length.
 */
export function clusterUpdateEvent(fields: Fields<ClusterUpdateEvent>): ClusterUpdateEvent {
  return parse(clusterUpdateSchema(), fields, "cluster update event", "create");
}

/**
 * A pseudo-label event, checked; every label's confidence must exceed the threshold.
 *
 * @throws {TypeError} when a field has the wrong type.
 * @throws {RangeError} when a value is out of range.
 */
export function labelEvent(fields: Fields<LabelEvent>): LabelEvent {
  return parse(labelSchema(), fields, "label event", "create");
}

/**
 * A model version event, checked.
 *
 * @throws {TypeError} when a field has the wrong type.
 * @throws {RangeError} when a value is out of range (a head outside the clusters' heads is not
 *   checked here: the checkpoint knows its heads).
 */
export function modelVersionEvent(fields: Fields<ModelVersionEvent>): ModelVersionEvent {
  return parse(modelVersionSchema(), fields, "model version event", "create");
}

/** An event as the bytes of a message payload (UTF-8 JSON). */
export function encodeEvent(event: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(event));
}

/**
 * An event from a message payload, checked by its constructor, e.g.
 * `decodeEvent(message.payload, assignmentEvent)`.
 *
 * @throws {TypeError} when the payload is not JSON of an object, or the constructor's errors.
 */
export function decodeEvent<T>(payload: Uint8Array, construct: (fields: never) => T): T {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(payload));
  } catch (error) {
    throw new TypeError("Cannot decode event: the payload is not JSON", { cause: error });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Cannot decode event: the payload must be a JSON object, current value is ${shown(value)}`,
    );
  }
  return construct(value as never);
}

/** What changed between two assignments of images to clusters. */
export interface AssignmentDiff {
  /** Images in both whose cluster changed, in the order of `next`. */
  moved: Move[];
  /** Images per cluster in `next`. */
  sizes: number[];
  /** Images in `next` only. */
  added: number;
  /** Images in `previous` only. */
  removed: number;
}

/**
 * Compare two assignments (image id -> stable cluster id, both aligned to the same ids).
 *
 * @param clusters number of clusters C; defaults to one past the largest id in `next`.
 * @throws {RangeError} when a cluster id is not an integer in [0, C).
 */
export function diffAssignments(
  previous: ReadonlyMap<string, number>,
  next: ReadonlyMap<string, number>,
  clusters?: number,
): AssignmentDiff {
  const count = clusters ?? Math.max(-1, ...next.values()) + 1;
  for (const [which, assignments] of [["previous", previous], ["new", next]] as const) {
    for (const [id, cluster] of assignments) {
      if (!(Number.isInteger(cluster) && cluster >= 0 && cluster < count)) {
        throw new RangeError(
          `Cannot compare assignments: ${which} cluster ids must be integers in [0, ${count}), ` +
            `current value of ${id} is ${cluster}`,
        );
      }
    }
  }
  const sizes = new Array<number>(count).fill(0);
  const moved: Move[] = [];
  let added = 0;
  for (const [id, to] of next) {
    sizes[to]++;
    const from = previous.get(id);
    if (from === undefined) added++;
    else if (from !== to) moved.push({ id, from, to });
  }
  let removed = 0;
  for (const id of previous.keys()) if (!next.has(id)) removed++;
  return { moved, sizes, added, removed };
}

/**
 * The `perCluster` most confident images of each cluster, most confident first (ties by id), as
 * the ids a cluster update shows for it.
 *
 * @param assignments image id -> cluster id in [0, clusters).
 * @param confidences image id -> confidence; images without one rank last.
 * @throws {RangeError} when a cluster id is out of range or `perCluster` is negative.
 */
export function exemplars(
  assignments: ReadonlyMap<string, number>,
  confidences: ReadonlyMap<string, number>,
  clusters: number,
  perCluster = 5,
): string[][] {
  if (!Number.isInteger(clusters) || clusters < 1) {
    throw new RangeError(
      `Cannot pick exemplars: clusters must be a positive integer, current value is ${clusters}`,
    );
  }
  if (!Number.isInteger(perCluster) || perCluster < 0) {
    throw new RangeError(
      `Cannot pick exemplars: perCluster must be a non-negative integer, current value is ` +
        `${perCluster}`,
    );
  }
  const members: { id: string; confidence: number }[][] = Array.from(
    { length: clusters },
    () => [],
  );
  for (const [id, cluster] of assignments) {
    if (!(Number.isInteger(cluster) && cluster >= 0 && cluster < clusters)) {
      throw new RangeError(
        `Cannot pick exemplars: cluster ids must be integers in [0, ${clusters}), ` +
          `current value of ${id} is ${cluster}`,
      );
    }
    const confidence = confidences.get(id);
    members[cluster].push({ id, confidence: Number.isFinite(confidence) ? confidence! : -1 });
  }
  return members.map((list) =>
    list
      .sort((a, b) => b.confidence - a.confidence || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, perCluster)
      .map((member) => member.id)
  );
}
