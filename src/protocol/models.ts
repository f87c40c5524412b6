/**
 * Checkpoint announcements (`scan.<p>.models` and the state bucket's `model` key) and the names
 * of the checkpoint objects in the models Object Store (`<checkpoint>/<file>`).
 *
 * The rule that keeps a forged announcement from freezing or misleading a stage: the subject is
 * only a wake-up. A reader honours the announcement the state bucket holds (written by the
 * cluster stage before it publishes), and only when its objects exist in the store; a prefix is
 * exactly the checkpoint number, so it never names a path outside the reader's scratch folder.
 */
import * as v from "valibot";
import { checkpoint, count, frozen, list, MAX_CLUSTERS, text, timestamp } from "./fields.ts";

/** An object's file part: a plain file name (no `/`, no `..`). */
export const OBJECT_FILE_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** Whether `name` is `<prefix>/<file>` with a plain file name; the file part, or undefined. */
export function objectFile(name: string, prefix: string): string | undefined {
  if (!name.startsWith(`${prefix}/`)) return undefined;
  const file = name.slice(prefix.length + 1);
  return OBJECT_FILE_PATTERN.test(file) && file !== "." && file !== ".." ? file : undefined;
}

/** A checkpoint's announcement: what an embed worker needs to serve with it. */
export const announcementSchema = () =>
  v.pipe(
    v.object({
      /** Checkpoint number: the training round whose networks these are (0: untrained). */
      checkpoint: checkpoint(),
      /** Object name prefix in the models store: the checkpoint number itself. */
      prefix: v.pipe(text(16), v.regex(/^[0-9]{1,10}$/, "a checkpoint number in decimal")),
      /** The clustering version of assignments made with it (0: no clustering yet). */
      modelVersion: count(),
      /** Clustering head used for assignments. */
      head: count(1024),
      /** Head cluster -> stable cluster id. */
      permutation: list(count(MAX_CLUSTERS), MAX_CLUSTERS),
      at: timestamp(),
    }, "an object"),
    v.check((a) => a.prefix === String(a.checkpoint), "a prefix equal to the checkpoint number"),
    frozen(),
  );
export type CheckpointAnnouncement = v.InferOutput<ReturnType<typeof announcementSchema>>;
