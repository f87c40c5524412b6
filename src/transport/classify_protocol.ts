/**
 * The `classify` service on `scan.<p>.classify`: a request carries an image file's bytes (PNG,
 * JPEG or GIF), the reply `{cluster, confidence, modelVersion, checkpoint}` as JSON. Requests
 * are bounded: the client does not send, and a responder refuses, more than
 * `CLASSIFY_MAX_BYTES` (below NATS's default 1 MiB payload limit, headers included).
 */
import { type ClassifyReply, classifyReplySchema } from "../protocol/classify.ts";
import { parseJson } from "../protocol/parse.ts";
import { type Bus, BusError } from "./bus.ts";
import { subjects } from "./subjects.ts";

/** Largest image a request may carry. */
export const CLASSIFY_MAX_BYTES = 1_000_000;

export type { ClassifyReply } from "../protocol/classify.ts";

/**
 * Ask the service of pipeline `pipeline` for the cluster of `bytes`.
 *
 * @throws {RangeError} when `bytes` exceeds `CLASSIFY_MAX_BYTES` (nothing is sent).
 * @throws {BusError} `no-responders` (no embed worker runs), `timeout`, `remote` (the responder
 *   refused: not an image, no clustering yet; its reason is in the message).
 */
export async function requestClassification(
  bus: Bus,
  pipeline: string,
  bytes: Uint8Array,
  timeoutMs = 10_000,
): Promise<ClassifyReply> {
  if (bytes.byteLength > CLASSIFY_MAX_BYTES) {
    throw new RangeError(
      `Cannot classify: a request holds at most ${CLASSIFY_MAX_BYTES} bytes, current size is ` +
        `${bytes.byteLength}`,
    );
  }
  const reply = await bus.request(subjects(pipeline).classify, bytes, { timeoutMs });
  return parseJson(classifyReplySchema(), reply.payload, "classify reply");
}

/** Whether an error is one a classify client reports per file and goes on after. */
export function isPerFileError(error: unknown): boolean {
  return error instanceof RangeError || (error instanceof BusError && error.code === "remote");
}
