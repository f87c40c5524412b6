/**
 * The values of the pipeline's KV buckets (src/transport/pipeline_state.ts): a reader parses
 * each with its schema, so a value written by something else (a forged put, an older version)
 * is refused with a message instead of being used as what it claims to be.
 */
import * as v from "valibot";
import type { ScanConfig } from "../config.ts";
import {
  checkpoint,
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
  timestamp,
} from "./fields.ts";

/** `scan_<p>_assignments`: image id -> its current assignment. */
export const storedAssignmentSchema = (clusters = MAX_CLUSTERS) =>
  v.pipe(
    v.object({
      path: path(),
      cluster: count(clusters),
      confidence: probability(),
      modelVersion: count(),
    }, "an object"),
    frozen(),
  );
export type StoredAssignment = v.InferOutput<ReturnType<typeof storedAssignmentSchema>>;

/** `scan_<p>_neighbours`: image id -> its current neighbour list. */
export const storedNeighboursSchema = () =>
  v.pipe(
    v.object({
      /** The checkpoint whose features the list was mined from. */
      checkpoint: checkpoint(),
      /** The image itself first, then its most similar images (at most K in all). */
      ids: list(imageId(), 1024),
      similarities: list(finite(), 1024),
    }, "an object"),
    v.check((n) => n.ids.length === n.similarities.length, "one similarity per id"),
    frozen(),
  );
export type StoredNeighbours = v.InferOutput<ReturnType<typeof storedNeighboursSchema>>;

/** `scan_<p>_state` `summary`: what the cluster stage reports for `deno task status`. */
export const summarySchema = () =>
  v.pipe(
    v.object({
      images: count(),
      modelVersion: count(),
      checkpoint: checkpoint(),
      /** Images per stable cluster id (empty before the first clustering). */
      sizes: list(count(), MAX_CLUSTERS),
      /** Images received but still waiting for their features. */
      waiting: count(),
      at: timestamp(),
    }, "an object"),
    frozen(),
  );
export type PipelineSummary = v.InferOutput<ReturnType<typeof summarySchema>>;

/** `scan_<p>_workers`: one worker's heartbeat. */
export const heartbeatSchema = () =>
  v.pipe(
    v.object({
      id: text(256),
      stage: text(64),
      host: text(256),
      pid: count(),
      startedAt: timestamp(),
      /** Messages (images, embeddings) this worker has finished. */
      processed: count(),
      /** Checkpoint it serves with, where that applies. */
      checkpoint: v.optional(checkpoint()),
      at: timestamp(),
    }, "an object"),
    frozen(),
  );
export type Heartbeat = v.InferOutput<ReturnType<typeof heartbeatSchema>>;

const stageConfig = () =>
  v.looseObject(
    { epochs: count(), batchSize: positive(), learningRate: finite() },
    "an object",
  );

/**
 * `scan_<p>_state` `config`: the settings every stage must agree on. The fields a stage sizes
 * memory or messages by are bounded; the rest pass through (`makeConfig` made them).
 */
export const sharedConfigSchema = () =>
  v.looseObject({
    backbone: text(64),
    inputSize: v.pipe(positive(), v.check((n: number) => n <= 512, "at most 512")),
    clusters: v.pipe(
      positive(),
      v.check((n: number) => n >= 2 && n <= MAX_CLUSTERS, `in [2, ${MAX_CLUSTERS}]`),
    ),
    heads: v.pipe(positive(), v.check((n: number) => n <= 64, "at most 64")),
    neighbours: v.pipe(positive(), v.check((n: number) => n <= 1024, "at most 1024")),
    clusterHeadOnly: flag(),
    pretext: stageConfig(),
    scan: stageConfig(),
    selflabel: stageConfig(),
    seed: finite(),
  }, "an object");

/** The shared config, checked: the bounded fields by the schema, the rest as `makeConfig` wrote them. */
export const sharedConfig = () =>
  v.pipe(sharedConfigSchema(), v.transform((config) => config as unknown as ScanConfig));
