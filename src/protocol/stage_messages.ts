/**
 * The headers of the tensor messages stage workers hand each other (the payloads are tensors,
 * src/transport/tensor_codec.ts; encode and decode are in src/transport/stage_messages.ts):
 *
 * - the image wire format, `scan.<p>.images`: uint8 `[S, S, 3]`, `scan-id`, `scan-path`
 *   (URI-encoded: header values are one line);
 * - `scan.<p>.embeddings`: float32 `[F + D]`, `scan-id`, `scan-path`, `scan-checkpoint`,
 *   `scan-worker`, `scan-backbone-dim`;
 * - `scan.<p>.neighbours`: float32 `[L]`, `scan-id`, `scan-checkpoint`, `scan-neighbours` (the
 *   ids as JSON), `scan-change`.
 *
 * `scan-id` becomes a KV key and a message id, so it must follow the image id grammar; the
 * checkpoint must be a plausible checkpoint number.
 */
import * as v from "valibot";
import { PROJECTION_DIM } from "../config.ts";
import { IMAGE_ID_PATTERN, MAX_CHECKPOINT, MAX_PATH_LENGTH } from "./fields.ts";

export const HEADERS = Object.freeze({
  id: "scan-id",
  path: "scan-path",
  checkpoint: "scan-checkpoint",
  worker: "scan-worker",
  backboneDim: "scan-backbone-dim",
  neighbours: "scan-neighbours",
  change: "scan-change",
});

/** A header's value, looked up without regard to case; undefined when absent or empty. */
export function header(headers: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return value === "" ? undefined : value;
}

const required = (what: string) => v.string(`present (${what})`);

/** `scan-id`. */
export const idHeader = () =>
  v.pipe(
    required("an image id"),
    v.regex(IMAGE_ID_PATTERN, "an image id (1 to 128 of A-Z a-z 0-9 _ = -)"),
  );

/** `scan-path`: URI-encoded, decoded here. */
export const pathHeader = () =>
  v.pipe(
    required("a URI-encoded path"),
    v.maxLength(3 * MAX_PATH_LENGTH, `a URI-encoded path of at most ${MAX_PATH_LENGTH} characters`),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return decodeURIComponent(dataset.value);
      } catch {
        addIssue({ message: "valid URI encoding" });
        return NEVER;
      }
    }),
  );

/** A decimal integer header in [lo, hi]. */
export const integerHeader = (what: string, lo: number, hi: number) =>
  v.pipe(
    required(what),
    v.regex(/^[0-9]{1,16}$/, `${what} (decimal digits)`),
    v.transform(Number),
    v.check((n: number) => n >= lo && n <= hi, `${what} in [${lo}, ${hi}]`),
  );

/** `scan-checkpoint`. */
export const checkpointHeader = () => integerHeader("a checkpoint number", 0, MAX_CHECKPOINT);

/** The headers of an image message. */
export const imageHeadersSchema = () =>
  v.object({ "scan-id": idHeader(), "scan-path": pathHeader() });

/** The headers of an embedding message. */
export const embeddingHeadersSchema = () =>
  v.object({
    "scan-id": idHeader(),
    "scan-path": pathHeader(),
    "scan-checkpoint": checkpointHeader(),
    "scan-worker": v.pipe(required("a worker id"), v.maxLength(256, "a worker id")),
    "scan-backbone-dim": integerHeader("a backbone width", 1, 65536),
  });

/** The headers of a neighbour-list message. */
export const neighbourHeadersSchema = () =>
  v.object({
    "scan-id": idHeader(),
    "scan-checkpoint": checkpointHeader(),
    "scan-neighbours": v.pipe(
      required("a JSON array of image ids"),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        let ids: unknown;
        try {
          ids = JSON.parse(dataset.value);
        } catch {
          // Reported below.
        }
        if (
          !Array.isArray(ids) || ids.length > 1024 ||
          !ids.every((x) => typeof x === "string" && IMAGE_ID_PATTERN.test(x))
        ) {
          addIssue({ message: "a JSON array of at most 1024 image ids" });
          return NEVER;
        }
        return ids as string[];
      }),
    ),
    "scan-change": v.picklist(["added", "updated"], "added or updated"),
  });

/** The named headers of `headers` by header name, as the schemas above take them. */
export function headerFields(
  headers: Record<string, string>,
  names: readonly (keyof typeof HEADERS)[],
): Record<string, string | undefined> {
  return Object.fromEntries(
    names.map((name) => [HEADERS[name], header(headers, HEADERS[name])]),
  );
}

/**
 * The feature widths an embedding of a pipeline with backbone `widths` must have: F is the
 * backbone's last width, D the projection's.
 */
export function featureWidths(widths: readonly number[] | undefined): {
  backbone?: number;
  projected: number;
} {
  return { backbone: widths?.[widths.length - 1], projected: PROJECTION_DIM };
}
