/** The `classify` service's reply (request: an image file's bytes). */
import * as v from "valibot";
import { count, frozen, probability } from "./fields.ts";
import { checkpoint } from "./fields.ts";

export const classifyReplySchema = () =>
  v.pipe(
    v.object({
      /** Stable cluster id, as in the assignments. */
      cluster: count(4096),
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
