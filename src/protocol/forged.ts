/**
 * Forged messages for every subject of a pipeline: what a hostile or broken publisher could
 * send (ids that break a KV key, cluster ids meant to exhaust memory, checkpoint numbers meant
 * to freeze a stage, prefixes that climb out of a folder, non-finite or short features, non-JSON,
 * wrong types). The protocol tests feed each to its reader; a hostile soak publishes them while a
 * pipeline runs. Every one must be refused, each as one `errors` event, none a crash.
 */
import type { BusMessage } from "../transport/bus.ts";
import { encodeTensor } from "../transport/tensor_codec.ts";
import { subjects } from "../transport/subjects.ts";

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const AT = "2026-01-01T00:00:00.000Z";
const ID = "f".repeat(64);

/** One forged message, with what it tries. */
export interface Forged extends BusMessage {
  readonly tries: string;
}

/** The forged messages of pipeline `name`, for widths F (backbone) and side S. */
export function forgedMessages(name: string, backbone = 64, size = 32): Forged[] {
  const s = subjects(name);
  const features = (width: number, fill = 0.1) =>
    encodeTensor({ data: new Float32Array(width).fill(fill), shape: [width] });
  const embedding = (headers: Record<string, string>, width = backbone + 128, fill = 0.1) => {
    const t = features(width, fill);
    return {
      payload: t.payload,
      headers: {
        ...t.headers,
        "scan-id": ID,
        "scan-path": "x.png",
        "scan-checkpoint": "0",
        "scan-worker": "forger",
        "scan-backbone-dim": String(backbone),
        ...headers,
      },
    };
  };
  const pixels = (side: number) =>
    encodeTensor({ data: new Uint8Array(side * side * 3), shape: [side, side, 3] });
  const assignment = {
    id: ID,
    path: "x.png",
    cluster: 0,
    confidence: 0.5,
    modelVersion: 1,
    at: AT,
  };
  const forged: Forged[] = [
    {
      tries: "an id that is no KV key",
      subject: s.embeddings,
      ...embedding({ "scan-id": "bad id" }),
    },
    {
      tries: "a checkpoint of 2^53 - 1",
      subject: s.embeddings,
      ...embedding({ "scan-checkpoint": String(Number.MAX_SAFE_INTEGER) }),
    },
    { tries: "5 features instead of 128", subject: s.embeddings, ...embedding({}, backbone + 5) },
    { tries: "NaN features", subject: s.embeddings, ...embedding({}, backbone + 128, NaN) },
    { tries: "no headers", subject: s.embeddings, payload: new Uint8Array(8), headers: {} },
    {
      tries: "an image of the wrong side",
      subject: s.images,
      ...(() => {
        const t = pixels(size + 1);
        return { payload: t.payload, headers: { ...t.headers, "scan-id": ID, "scan-path": "x" } };
      })(),
    },
    {
      tries: "a path that is not URI encoding",
      subject: s.images,
      ...(() => {
        const t = pixels(size);
        return {
          payload: t.payload,
          headers: { ...t.headers, "scan-id": ID, "scan-path": "%E0%A4%A" },
        };
      })(),
    },
    {
      tries: "a neighbour list not starting with itself",
      subject: s.neighbours,
      ...(() => {
        const t = features(2);
        return {
          payload: t.payload,
          headers: {
            ...t.headers,
            "scan-id": ID,
            "scan-checkpoint": "0",
            "scan-neighbours": JSON.stringify(["a", "b"]),
            "scan-change": "added",
          },
        };
      })(),
    },
    {
      tries: "a cluster id of 2^31 - 1",
      subject: s.assignments,
      payload: json({ ...assignment, cluster: 2147483647 }),
      headers: {},
    },
    {
      tries: "a confidence of 2",
      subject: s.assignments,
      payload: json({ ...assignment, confidence: 2 }),
      headers: {},
    },
    {
      tries: "not JSON",
      subject: s.assignments,
      payload: new TextEncoder().encode("{"),
      headers: {},
    },
    {
      tries: "a cluster update of 10^5 clusters",
      subject: s.clusters,
      payload: json({
        version: 1,
        at: AT,
        sizes: new Array(100_000).fill(0),
        moved: [],
        exemplars: [],
        losses: {},
        images: 0,
      }),
      headers: {},
    },
    {
      tries: "a label below its threshold",
      subject: s.labels,
      payload: json({
        modelVersion: 1,
        at: AT,
        threshold: 0.99,
        labels: [{ id: ID, cluster: 0, confidence: 0.5 }],
      }),
      headers: {},
    },
    {
      tries: "a refusal without a reason",
      subject: s.errors,
      payload: json({ path: "x", at: AT }),
      headers: {},
    },
    {
      tries: "an announcement of checkpoint 2^53 - 1",
      subject: s.models,
      payload: json({
        checkpoint: Number.MAX_SAFE_INTEGER,
        prefix: String(Number.MAX_SAFE_INTEGER),
        modelVersion: 1,
        head: 0,
        permutation: [],
        at: AT,
      }),
      headers: {},
    },
    {
      tries: "an announcement whose prefix leaves the scratch folder",
      subject: s.models,
      payload: json({
        checkpoint: 1,
        prefix: "../../..",
        modelVersion: 1,
        head: 0,
        permutation: [],
        at: AT,
      }),
      headers: {},
    },
    {
      tries: "a classify reply with a cluster of 10^9",
      subject: s.classify,
      payload: json({ cluster: 1e9, confidence: 1, modelVersion: 1, checkpoint: 1 }),
      headers: {},
    },
  ];
  return forged;
}
