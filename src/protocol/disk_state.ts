/**
 * The JSON files a process reads back from its own state directory: another process (or a
 * user, or a crash of an older version) may have written them, so they are parsed like a
 * message. A name read from them that goes into a path join is a plain file name.
 */
import * as v from "valibot";
import { anyNumber, count, finite, positive, probability } from "./fields.ts";

/** A plain file or directory name: no `/`, not `.` or `..`. */
export const plainName = () =>
  v.pipe(
    v.string("a plain file name"),
    v.regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/, "a plain file name"),
  );

const number = () => anyNumber();

/** The stream trainer's `state.json` (src/stream/trainer.ts `TrainerState`). */
export const trainerStateSchema = () =>
  v.object({
    format: v.literal(1, "format 1"),
    shape: v.object({
      backbone: v.string("a backbone name"),
      inputSize: positive(),
      clusters: positive(),
      heads: positive(),
      neighbours: positive(),
    }, "an object"),
    models: v.nullable(plainName()),
    version: count(),
    head: count(),
    permutation: v.array(count(), "an array"),
    steps: v.object({
      rounds: count(),
      pretext: count(),
      scan: count(),
      selflabel: count(),
    }, "an object"),
    updatedAt: count(),
    assignments: v.array(
      v.tuple([v.string("an image id"), count(), finite()], "[id, cluster, confidence]"),
      "an array",
    ),
    refused: v.array(v.string("a path"), "an array"),
    // Absent in states written before it existed: nothing was waiting then.
    unpublished: v.optional(unpublishedSchema(), { images: [], events: [] }),
  }, "an object");

/** Publishes a checkpoint saw in flight (`TrainerState.unpublished`). */
export const unpublishedSchema = () =>
  v.object({
    images: v.array(v.string("an image id"), "an array"),
    events: v.array(
      v.object({
        subject: v.picklist(["clusters", "labels"], "clusters or labels"),
        msgId: v.pipe(v.string("a message id"), v.regex(/^[\x21-\x7e]{1,200}$/, "a message id")),
        event: v.string("an encoded event"),
      }, "an object"),
      "an array",
    ),
  }, "an object");

/** The image store's `index.json` (src/stream/store.ts); its lengths are checked by the store. */
export const storeIndexSchema = () =>
  v.object({
    format: v.literal(1, "format 1"),
    size: positive(),
    n: count(),
    ids: v.array(v.string("an image id"), "an array"),
    paths: v.array(v.string("a path"), "an array"),
    receivedAt: v.array(number(), "an array"),
    labels: v.array(v.string("a label"), "an array"),
  }, "an object");

const stageProgress = () => v.object({ epochs: count(), seconds: finite() }, "an object");

/** An offline run's `state.json` (src/run/run_dir.ts `RunState`). */
export const runStateSchema = () =>
  v.object({
    pretext: stageProgress(),
    mining: v.object({ done: v.boolean("a boolean"), seconds: finite() }, "an object"),
    scan: v.object({
      epochs: count(),
      seconds: finite(),
      bestHead: count(),
      bestLoss: v.nullable(finite()),
    }, "an object"),
    selflabel: stageProgress(),
    final: v.optional(v.object({
      stage: v.picklist(["scan", "selflabel"], '"scan" or "selflabel"'),
      agreement: v.object({ scan: probability(), selflabel: probability() }, "an object"),
    }, "an object")),
  }, "an object");

/**
 * A run's saved `config.json`: an object, compared field by field with the run's config by its
 * reader (older runs lack newer fields, so it is not held to today's shape).
 */
export const savedConfigSchema = () => v.record(v.string(), v.unknown(), "an object");

const stagePlan = () =>
  v.object({ epochs: count(), seconds: finite(), fixed: v.boolean("a boolean") }, "an object");

/** An offline run's `plan.json` (src/run/budget_plan.ts `BudgetPlan`): its time budget's plan. */
export const budgetPlanSchema = () =>
  v.object({
    minutes: v.pipe(finite(), v.check((n: number) => n > 0, "positive")),
    timings: v.object({
      pretextStep: finite(),
      scanStep: finite(),
      selflabelStep: finite(),
      embedImage: finite(),
      checkpoint: finite(),
      headLossImage: v.optional(finite()),
      knnSample: v.optional(
        v.object({ images: finite(), seconds: finite() }, "an object"),
      ),
      poolOpen: finite(),
      measuring: finite(),
    }, "an object"),
    pretext: stagePlan(),
    mining: v.object({ seconds: finite() }, "an object"),
    scan: stagePlan(),
    selflabel: stagePlan(),
    overheadSeconds: finite(),
    cut: v.optional(
      v.object({
        pretext: v.optional(count()),
        scan: v.optional(count()),
        selflabel: v.optional(count()),
      }, "an object"),
    ),
  }, "an object");
