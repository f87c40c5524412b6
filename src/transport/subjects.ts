/**
 * The NATS subjects of a pipeline, built in this one place so stages, workers and subscribers
 * agree on them: `scan.<pipeline>.<kind>`.
 */

/** The subjects of one pipeline; see DESIGN.md "Stages, subjects, events". */
export interface Subjects {
  /** An ingested image: id (content hash), source path, shape, pixels. */
  readonly images: string;
  /** Id, model version, feature vector. */
  readonly embeddings: string;
  /** Id, neighbour ids and similarities. */
  readonly neighbours: string;
  /** Id, path, cluster id, confidence, model version. */
  readonly assignments: string;
  /** A cluster update: version, sizes, images that moved, exemplars, losses. */
  readonly clusters: string;
  /** Pseudo-labels accepted by self-labelling. */
  readonly labels: string;
  /** An input that was refused: path, reason. */
  readonly errors: string;
  /** Request/reply: an image in, its cluster and confidence out. */
  readonly classify: string;
  /** Announcements of new checkpoints in the Object Store (live only; the latest is in KV). */
  readonly models: string;
}

const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/**
 * Refuse a pipeline name that would not make exactly one subject token (a `.` would split it,
 * `*` and `>` are wildcards) or a valid JetStream stream name.
 *
 * @throws {TypeError} when the name is not a string.
 * @throws {RangeError} when it is empty or has a character outside `[A-Za-z0-9_-]`.
 */
export function validatePipelineName(name: string): string {
  if (typeof name !== "string") {
    throw new TypeError(
      `Cannot use pipeline name: it must be a string, current value is ${String(name)}`,
    );
  }
  if (name.length === 0) {
    throw new RangeError("Cannot use pipeline name: it must not be empty");
  }
  if (!NAME_PATTERN.test(name)) {
    throw new RangeError(
      "Cannot use pipeline name: only letters, digits, '_' and '-' are allowed (no '.', '*', " +
        `'>' or whitespace), current value is ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** The subjects of pipeline `pipeline`, e.g. `scan.demo.images`. */
export function subjects(pipeline: string): Subjects {
  const p = validatePipelineName(pipeline);
  return Object.freeze({
    images: `scan.${p}.images`,
    embeddings: `scan.${p}.embeddings`,
    neighbours: `scan.${p}.neighbours`,
    assignments: `scan.${p}.assignments`,
    clusters: `scan.${p}.clusters`,
    labels: `scan.${p}.labels`,
    errors: `scan.${p}.errors`,
    classify: `scan.${p}.classify`,
    models: `scan.${p}.models`,
  });
}

/**
 * The subjects JetStream keeps (every subject but `classify`, which is request/reply: a stream
 * over it would answer requests with publish acknowledgements, and `models`, whose latest value
 * lives in a KV bucket).
 */
export function durableSubjects(pipeline: string): string[] {
  const s = subjects(pipeline);
  return [s.images, s.embeddings, s.neighbours, s.assignments, s.clusters, s.labels, s.errors];
}

/** The JetStream stream name of a pipeline: `SCAN_<pipeline>`. */
export function streamName(pipeline: string): string {
  return `SCAN_${validatePipelineName(pipeline)}`;
}

/**
 * Whether `subject` matches the NATS subject `pattern` (`*` one token, `>` one or more trailing
 * tokens).
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
