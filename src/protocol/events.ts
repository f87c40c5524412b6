/**
 * The events on the pipeline's JSON subjects (DESIGN.md, "Stages, subjects, events"): their
 * schemas and, derived from them, their types. A schema that takes `clusters` bounds every
 * cluster id by it, so that one forged id cannot make a reader allocate per id up to its value.
 */
import * as v from "valibot";
import {
  at,
  bounded,
  count,
  finite,
  flag,
  frozen,
  imageId,
  list,
  MAX_CLUSTERS,
  path,
  positive,
  probability,
  text,
} from "./fields.ts";

export { MAX_CLUSTERS };

/** `scan.<p>.assignments`: the cluster of one image under one model version. */
export const assignmentSchema = (clusters = MAX_CLUSTERS) =>
  v.pipe(
    v.object({
      /** Content hash of the image. */
      id: imageId(),
      /** Where the image came from. */
      path: path(),
      /** Stable cluster id (aligned across model versions). */
      cluster: count(clusters),
      /** Probability of that cluster under the head, in [0, 1]. */
      confidence: probability(),
      modelVersion: count(),
      at: at(),
    }, "an object"),
    frozen(),
  );
export type AssignmentEvent = v.InferOutput<ReturnType<typeof assignmentSchema>>;

/** `scan.<p>.errors`: an input (a file, a message) that was refused. */
export const refusalSchema = () =>
  v.pipe(
    v.object({ path: path(), reason: text(), at: at() }, "an object"),
    frozen(),
  );
export type RefusalEvent = v.InferOutput<ReturnType<typeof refusalSchema>>;

/** An image that changed cluster between two model versions. */
const moveSchema = (clusters: number) =>
  v.pipe(
    v.object({ id: imageId(), from: count(clusters), to: count(clusters) }, "an object"),
    frozen(),
  );
export type Move = v.InferOutput<ReturnType<typeof moveSchema>>;

const LOSS_PARTS = ["pretext", "consistency", "entropy", "total", "selflabel"] as const;

/** Losses of the round that produced a model version; a part absent when it did not run. */
const lossesSchema = () =>
  v.pipe(
    v.object(
      Object.fromEntries(LOSS_PARTS.map((part) => [part, v.optional(finite())])) as Record<
        typeof LOSS_PARTS[number],
        v.OptionalSchema<ReturnType<typeof finite>, undefined>
      >,
      "an object",
    ),
    // Parts that are absent stay absent (not `undefined` keys).
    v.transform((losses) =>
      Object.freeze(Object.fromEntries(Object.entries(losses).filter(([, x]) => x !== undefined)))
    ),
  );
export type RoundLosses = {
  /** SimCLR (NT-Xent) loss of the pretext steps. */
  readonly pretext?: number;
  /** SCAN consistency term: -mean log <h(anchor), h(neighbour)>. */
  readonly consistency?: number;
  /** Entropy of the mean cluster distribution (the term SCAN maximises). */
  readonly entropy?: number;
  /** SCAN total: consistency - entropyWeight * entropy. */
  readonly total?: number;
  /** Confidence cross-entropy of the self-labelling steps. */
  readonly selflabel?: number;
};

/** Path items for an issue inside an object's array field. */
function itemPath(input: unknown, key: string, index: number, field?: string) {
  const array = (input as Record<string, unknown[]>)[key];
  const items: v.IssuePathItem[] = [
    { type: "object", origin: "value", input: input as Record<string, unknown>, key, value: array },
    { type: "array", origin: "value", input: array, key: index, value: array[index] },
  ];
  if (field !== undefined) {
    const item = array[index] as Record<string, unknown>;
    items.push({ type: "object", origin: "value", input: item, key: field, value: item[field] });
  }
  return items as [v.IssuePathItem, ...v.IssuePathItem[]];
}

/** `scan.<p>.clusters`: what one training round changed in the clustering. */
export const clusterUpdateSchema = (clusters = MAX_CLUSTERS) =>
  v.pipe(
    v.object({
      /** The model version the assignments come from. */
      version: count(),
      at: at(),
      /** Images per stable cluster id. */
      sizes: list(count(), clusters),
      /** Images that changed cluster since the previous version. */
      moved: list(moveSchema(clusters)),
      /** A few ids per cluster, most confident first. */
      exemplars: list(list(imageId()), clusters),
      losses: lossesSchema(),
      /** Images in the store when the round ran. */
      images: count(),
      /** Hungarian-matched accuracy, NMI and ARI, only where ground truth exists. */
      accuracy: v.optional(bounded(0, 1)),
      nmi: v.optional(bounded(0, 1)),
      ari: v.optional(bounded(-1, 1)),
    }, "an object"),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const event = dataset.value;
      const c = event.sizes.length;
      if (event.exemplars.length !== c) {
        addIssue({
          message: `one list per cluster (${c})`,
          input: event.exemplars,
          path: [{
            type: "object",
            origin: "value",
            input: event as unknown as Record<string, unknown>,
            key: "exemplars",
            value: event.exemplars,
          }],
        });
        return;
      }
      event.moved.forEach((move, i) => {
        for (const end of ["from", "to"] as const) {
          if (move[end] >= c) {
            addIssue({
              message: `an integer in [0, ${c})`,
              input: move[end],
              path: itemPath(event, "moved", i, end),
            });
          }
        }
      });
    }),
    // Metrics that are absent stay absent.
    v.transform((event) =>
      Object.freeze(
        Object.fromEntries(Object.entries(event).filter(([, x]) => x !== undefined)),
      ) as Readonly<typeof event>
    ),
  );
export type ClusterUpdateEvent = {
  readonly version: number;
  readonly at: string;
  readonly sizes: readonly number[];
  readonly moved: readonly Move[];
  readonly exemplars: readonly (readonly string[])[];
  readonly losses: RoundLosses;
  readonly images: number;
  readonly accuracy?: number;
  readonly nmi?: number;
  readonly ari?: number;
};

/** One pseudo-label accepted by self-labelling. */
const pseudoLabelSchema = (clusters: number) =>
  v.pipe(
    v.object({ id: imageId(), cluster: count(clusters), confidence: probability() }, "an object"),
    frozen(),
  );
export type PseudoLabel = v.InferOutput<ReturnType<typeof pseudoLabelSchema>>;

/** `scan.<p>.labels`: the pseudo-labels self-labelling accepted in one round. */
export const labelSchema = (clusters = MAX_CLUSTERS) =>
  v.pipe(
    v.object({
      modelVersion: count(),
      at: at(),
      /** The confidence a prediction had to exceed (paper: 0.99). */
      threshold: probability(),
      labels: list(pseudoLabelSchema(clusters)),
    }, "an object"),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const event = dataset.value;
      event.labels.forEach((label, i) => {
        if (!(label.confidence > event.threshold)) {
          addIssue({
            message: `above the threshold ${event.threshold} (it must exceed it)`,
            input: label.confidence,
            path: itemPath(event, "labels", i, "confidence"),
          });
        }
      });
    }),
    frozen(),
  );
export type LabelEvent = v.InferOutput<ReturnType<typeof labelSchema>>;

/** A new model version from the trainer, for workers to load. */
export const modelVersionSchema = () =>
  v.pipe(
    v.object({
      version: count(),
      at: at(),
      /** Where the checkpoint is: an Object Store name or a directory. */
      checkpoint: text(),
      /** Clustering head used for assignments. */
      head: count(),
      clusters: positive(),
      /** Whether the backbone changed, so features and neighbours must be recomputed. */
      backboneChanged: flag(),
      /** Images in the store when the version was trained. */
      images: count(),
    }, "an object"),
    frozen(),
  );
export type ModelVersionEvent = v.InferOutput<ReturnType<typeof modelVersionSchema>>;
