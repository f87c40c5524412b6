/** The `classify` service's reply (request: an image file's bytes). */
import * as v from "valibot";
import { checkpoint, count, frozen, MAX_CLUSTERS, probability } from "./fields.ts";

export const classifyReplySchema = () =>
  v.pipe(
    v.object({
      /** Stable cluster id, as in the assignments. */
      cluster: count(MAX_CLUSTERS),
      /** Probability of that cluster under the serving head. */
      confidence: probability(),
      /** The clustering version the cluster id belongs to. */
      modelVersion: count(),
      /** The checkpoint (training round) whose networks answered. */
      checkpoint: checkpoint(),
    }, "an object"),
    frozen(),
  );
export type ClassifyReply = v.InferOutput<ReturnType<typeof classifyReplySchema>>;
