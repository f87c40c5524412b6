/**
 * The pipeline's subjects (built in src/transport/subjects.ts, the one place) and, per subject,
 * what travels on it, for readers that handle every subject (`deno task events`, the soak's
 * hostile mode).
 */
export {
  durableSubjects,
  streamName,
  type Subjects,
  subjects,
  validatePipelineName,
} from "../transport/subjects.ts";

/** What each subject carries. */
export const SUBJECT_PAYLOADS = Object.freeze({
  images: "image wire format: uint8 [S, S, 3] pixels, scan-id and scan-path headers",
  embeddings: "float32 [F + D] features, scan-id, scan-path, scan-checkpoint, scan-worker, " +
    "scan-backbone-dim headers",
  neighbours: "float32 [L] similarities, scan-id, scan-checkpoint, scan-neighbours, " +
    "scan-change headers",
  assignments: "JSON AssignmentEvent",
  clusters: "JSON ClusterUpdateEvent",
  labels: "JSON LabelEvent",
  errors: "JSON RefusalEvent",
  classify: "request: image file bytes; reply: JSON ClassifyReply or a scan-error header",
  models: "JSON CheckpointAnnouncement (a wake-up: the state bucket's model key is the authority)",
});
