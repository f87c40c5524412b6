/**
 * The events the stream publishes on its subjects (DESIGN.md, "Stages, subjects, events"), as
 * plain JSON objects. Each has a constructor that checks every field, so a malformed event is
 * refused where it is made, and the same constructor checks an event a subscriber decoded.
 * Tensors (features, pixels) do not travel here: they go as raw bytes with the tensor codec.
 */

/** When something happened: an ISO 8601 UTC timestamp. */
export type Timestamp = string;

/** `scan.<p>.assignments`: the cluster of one image under one model version. */
export interface AssignmentEvent {
  /** Content hash of the image. */
  readonly id: string;
  /** Where the image came from. */
  readonly path: string;
  /** Stable cluster id (aligned across model versions). */
  readonly cluster: number;
  /** Probability of that cluster under the head, in [0, 1]. */
  readonly confidence: number;
  readonly modelVersion: number;
  readonly at: Timestamp;
}

/** `scan.<p>.errors`: an input that was refused. */
export interface RefusalEvent {
  readonly path: string;
  readonly reason: string;
  readonly at: Timestamp;
}

/** An image that changed cluster between two model versions. */
export interface Move {
  readonly id: string;
  readonly from: number;
  readonly to: number;
}

/** Losses of the round that produced a model version; a part absent when it did not run. */
export interface RoundLosses {
  /** SimCLR (NT-Xent) loss of the pretext steps. */
  readonly pretext?: number;
  /** SCAN consistency term: -mean log <h(anchor), h(neighbour)>. */
  readonly consistency?: number;
  /** Entropy of the mean cluster distribution (the term SCAN maximises). */
  readonly entropy?: number;
  /** SCAN total: consistency - entropyWeight * entropy. */
  readonly total?: number;
  /** Confidence cross-entropy of the self-labelling steps. */
  readonly selflabel?: number;
}

/** `scan.<p>.clusters`: what one training round changed in the clustering. */
export interface ClusterUpdateEvent {
  /** The model version the assignments come from. */
  readonly version: number;
  readonly at: Timestamp;
  /** Images per stable cluster id. */
  readonly sizes: readonly number[];
  /** Images that changed cluster since the previous version. */
  readonly moved: readonly Move[];
  /** A few ids per cluster, most confident first. */
  readonly exemplars: readonly (readonly string[])[];
  readonly losses: RoundLosses;
  /** Images in the store when the round ran. */
  readonly images: number;
  /** Hungarian-matched accuracy, NMI and ARI, only where ground truth exists (reporting only). */
  readonly accuracy?: number;
  readonly nmi?: number;
  readonly ari?: number;
}

/** One pseudo-label accepted by self-labelling. */
export interface PseudoLabel {
  readonly id: string;
  readonly cluster: number;
  /** Probability under a weak augmentation; above the threshold. */
  readonly confidence: number;
}

/** `scan.<p>.labels`: the pseudo-labels self-labelling accepted in one round. */
export interface LabelEvent {
  readonly modelVersion: number;
  readonly at: Timestamp;
  /** The confidence a prediction had to exceed (paper: 0.99). */
  readonly threshold: number;
  readonly labels: readonly PseudoLabel[];
}

/** A new model version from the trainer, for workers to load. */
export interface ModelVersionEvent {
  readonly version: number;
  readonly at: Timestamp;
  /** Where the checkpoint is: an Object Store name or a directory. */
  readonly checkpoint: string;
  /** Clustering head used for assignments (the one with the lowest SCAN loss). */
  readonly head: number;
  readonly clusters: number;
  /** Whether the backbone changed, so features and neighbours must be recomputed. */
  readonly backboneChanged: boolean;
  /** Images in the store when the version was trained. */
  readonly images: number;
}

/** Fields of an event; `at` defaults to now. */
type Fields<T extends { at: Timestamp }> = Omit<T, "at"> & { at?: Timestamp };

/**
 * An assignment event, checked.
 *
 * @throws {TypeError} when a field has the wrong type.
 * @throws {RangeError} when a value is out of range (negative cluster, confidence outside [0, 1]).
 */
export function assignmentEvent(fields: Fields<AssignmentEvent>): AssignmentEvent {
  const check = new Checker("assignment event", fields);
  return Object.freeze({
    id: check.text("id"),
    path: check.text("path"),
    cluster: check.count("cluster"),
    confidence: check.probability("confidence"),
    modelVersion: check.count("modelVersion"),
    at: check.at(),
  });
}

/**
 * A refusal event, checked.
 *
 * @throws {TypeError} when a field has the wrong type or is empty.
 */
export function refusalEvent(fields: Fields<RefusalEvent>): RefusalEvent {
  const check = new Checker("refusal event", fields);
  return Object.freeze({ path: check.text("path"), reason: check.text("reason"), at: check.at() });
}

/**
 * A cluster update event, checked: one size and one exemplar list per cluster, moves between
 * existing clusters, finite losses, metrics in range.
 *
 * @throws {TypeError} when a field has the wrong type.
 * @throws {RangeError} when a value is out of range or the per-cluster lists differ in length.
 */
export function clusterUpdateEvent(fields: Fields<ClusterUpdateEvent>): ClusterUpdateEvent {
  const check = new Checker("cluster update event", fields);
  const sizes = check.list("sizes", (value, name) => check.countValue(value, name));
  const clusters = sizes.length;
  const moved = check.list("moved", (value, name) => {
    const move = check.nested(value, name);
    return Object.freeze({
      id: move.text("id"),
      from: move.count("from", clusters),
      to: move.count("to", clusters),
    });
  });
  const exemplars = check.list("exemplars", (value, name) =>
    Object.freeze(
      check.listValue(value, name, (id, idName) => check.textValue(id, idName)),
    ));
  if (exemplars.length !== clusters) {
    throw new RangeError(
      `Cannot create cluster update event: exemplars must have one list per cluster ` +
        `(${clusters}), current length is ${exemplars.length}`,
    );
  }
  const losses = check.nested(fields.losses, "losses");
  const event: ClusterUpdateEvent = {
    version: check.count("version"),
    at: check.at(),
    sizes,
    moved,
    exemplars,
    losses: Object.freeze(
      Object.fromEntries(
        (["pretext", "consistency", "entropy", "total", "selflabel"] as const)
          .filter((part) => fields.losses[part] !== undefined)
          .map((part) => [part, losses.finite(part)]),
      ),
    ),
    images: check.count("images"),
  };
  const metrics = Object.fromEntries(
    (["accuracy", "nmi", "ari"] as const)
      .filter((metric) => fields[metric] !== undefined)
      .map((metric) => [metric, check.bounded(metric, metric === "ari" ? -1 : 0, 1)]),
  );
  return Object.freeze({ ...event, ...metrics });
}

/**
 * A pseudo-label event, checked; every label's confidence must exceed the threshold.
 *
 * @throws {TypeError} when a field has the wrong type.
 * @throws {RangeError} when a value is out of range.
 */
export function labelEvent(fields: Fields<LabelEvent>): LabelEvent {
  const check = new Checker("label event", fields);
  const threshold = check.probability("threshold");
  const labels = check.list("labels", (value, name) => {
    const label = check.nested(value, name);
    const confidence = label.probability("confidence");
    if (!(confidence > threshold)) {
      throw new RangeError(
        `Cannot create label event: ${name}.confidence must exceed the threshold ${threshold}, ` +
          `current value is ${confidence}`,
      );
    }
    return Object.freeze({ id: label.text("id"), cluster: label.count("cluster"), confidence });
  });
  return Object.freeze({
    modelVersion: check.count("modelVersion"),
    at: check.at(),
    threshold,
    labels,
  });
}

/**
 * A model version event, checked.
 *
 * @throws {TypeError} when a field has the wrong type.
 * @throws {RangeError} when a value is out of range (a head outside the clusters' heads is not
 *   checked here: the checkpoint knows its heads).
 */
export function modelVersionEvent(fields: Fields<ModelVersionEvent>): ModelVersionEvent {
  const check = new Checker("model version event", fields);
  const clusters = check.count("clusters");
  if (clusters < 1) {
    throw new RangeError(
      `Cannot create model version event: clusters must be positive, current value is 0`,
    );
  }
  return Object.freeze({
    version: check.count("version"),
    at: check.at(),
    checkpoint: check.text("checkpoint"),
    head: check.count("head"),
    clusters,
    backboneChanged: check.flag("backboneChanged"),
    images: check.count("images"),
  });
}

/** An event as the bytes of a message payload (UTF-8 JSON). */
export function encodeEvent(event: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(event));
}

/**
 * An event from a message payload, checked by its constructor, e.g.
 * `decodeEvent(message.payload, assignmentEvent)`.
 *
 * @throws {TypeError} when the payload is not JSON of an object, or the constructor's errors.
 */
export function decodeEvent<T>(payload: Uint8Array, construct: (fields: never) => T): T {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(payload));
  } catch (error) {
    throw new TypeError("Cannot decode event: the payload is not JSON", { cause: error });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Cannot decode event: the payload must be a JSON object, current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return construct(value as never);
}

/** What changed between two assignments of images to clusters. */
export interface AssignmentDiff {
  /** Images in both whose cluster changed, in the order of `next`. */
  moved: Move[];
  /** Images per cluster in `next`. */
  sizes: number[];
  /** Images in `next` only. */
  added: number;
  /** Images in `previous` only. */
  removed: number;
}

/**
 * Compare two assignments (image id -> stable cluster id, both aligned to the same ids).
 *
 * @param clusters number of clusters C; defaults to one past the largest id in `next`.
 * @throws {RangeError} when a cluster id is not an integer in [0, C).
 */
export function diffAssignments(
  previous: ReadonlyMap<string, number>,
  next: ReadonlyMap<string, number>,
  clusters?: number,
): AssignmentDiff {
  const count = clusters ?? Math.max(-1, ...next.values()) + 1;
  for (const [which, assignments] of [["previous", previous], ["new", next]] as const) {
    for (const [id, cluster] of assignments) {
      if (!(Number.isInteger(cluster) && cluster >= 0 && cluster < count)) {
        throw new RangeError(
          `Cannot compare assignments: ${which} cluster ids must be integers in [0, ${count}), ` +
            `current value of ${id} is ${cluster}`,
        );
      }
    }
  }
  const sizes = new Array<number>(count).fill(0);
  const moved: Move[] = [];
  let added = 0;
  for (const [id, to] of next) {
    sizes[to]++;
    const from = previous.get(id);
    if (from === undefined) added++;
    else if (from !== to) moved.push({ id, from, to });
  }
  let removed = 0;
  for (const id of previous.keys()) if (!next.has(id)) removed++;
  return { moved, sizes, added, removed };
}

/**
 * The `perCluster` most confident images of each cluster, most confident first (ties by id), as
 * the ids a cluster update shows for it.
 *
 * @param assignments image id -> cluster id in [0, clusters).
 * @param confidences image id -> confidence; images without one rank last.
 * @throws {RangeError} when a cluster id is out of range or `perCluster` is negative.
 */
export function exemplars(
  assignments: ReadonlyMap<string, number>,
  confidences: ReadonlyMap<string, number>,
  clusters: number,
  perCluster = 5,
): string[][] {
  if (!Number.isInteger(clusters) || clusters < 1) {
    throw new RangeError(
      `Cannot pick exemplars: clusters must be a positive integer, current value is ${clusters}`,
    );
  }
  if (!Number.isInteger(perCluster) || perCluster < 0) {
    throw new RangeError(
      `Cannot pick exemplars: perCluster must be a non-negative integer, current value is ` +
        `${perCluster}`,
    );
  }
  const members: { id: string; confidence: number }[][] = Array.from(
    { length: clusters },
    () => [],
  );
  for (const [id, cluster] of assignments) {
    if (!(Number.isInteger(cluster) && cluster >= 0 && cluster < clusters)) {
      throw new RangeError(
        `Cannot pick exemplars: cluster ids must be integers in [0, ${clusters}), ` +
          `current value of ${id} is ${cluster}`,
      );
    }
    const confidence = confidences.get(id);
    members[cluster].push({ id, confidence: Number.isFinite(confidence) ? confidence! : -1 });
  }
  return members.map((list) =>
    list
      .sort((a, b) => b.confidence - a.confidence || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, perCluster)
      .map((member) => member.id)
  );
}

/** Field checks for one event, with the event's name in every message. */
class Checker {
  readonly #what: string;
  readonly #fields: Record<string, unknown>;
  readonly #prefix: string;

  constructor(what: string, fields: unknown, prefix = "") {
    this.#what = what;
    this.#prefix = prefix;
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
      throw new TypeError(
        `Cannot create ${what}: ${prefix || "fields"} must be an object, current value is ` +
          `${JSON.stringify(fields)}`,
      );
    }
    this.#fields = fields as Record<string, unknown>;
  }

  /** A checker for an object inside this one. */
  nested(value: unknown, name: string): Checker {
    return new Checker(this.#what, value, this.#name(name));
  }

  text(name: string): string {
    return this.textValue(this.#fields[name], this.#name(name));
  }

  textValue(value: unknown, name: string): string {
    if (typeof value !== "string" || value.length === 0) {
      this.#fail(TypeError, name, "a non-empty string", value);
    }
    return value as string;
  }

  /** A non-negative integer (an id, a version, a count), below `limit` when given. */
  count(name: string, limit?: number): number {
    return this.countValue(this.#fields[name], this.#name(name), limit);
  }

  countValue(value: unknown, name: string, limit?: number): number {
    if (typeof value !== "number") this.#fail(TypeError, name, "a number", value);
    const n = value as number;
    if (!Number.isInteger(n) || n < 0 || (limit !== undefined && n >= limit)) {
      const range = limit === undefined ? "a non-negative integer" : `an integer in [0, ${limit})`;
      this.#fail(RangeError, name, range, value);
    }
    return n;
  }

  finite(name: string): number {
    const value = this.#fields[name];
    if (typeof value !== "number") this.#fail(TypeError, this.#name(name), "a number", value);
    if (!Number.isFinite(value)) this.#fail(RangeError, this.#name(name), "finite", value);
    return value as number;
  }

  bounded(name: string, lo: number, hi: number): number {
    const value = this.finite(name);
    if (value < lo || value > hi) {
      this.#fail(RangeError, this.#name(name), `in [${lo}, ${hi}]`, value);
    }
    return value;
  }

  probability(name: string): number {
    return this.bounded(name, 0, 1);
  }

  flag(name: string): boolean {
    const value = this.#fields[name];
    if (typeof value !== "boolean") this.#fail(TypeError, this.#name(name), "a boolean", value);
    return value as boolean;
  }

  /** A frozen copy of the array field `name`, each element checked by `item`. */
  list<T>(name: string, item: (value: unknown, name: string) => T): readonly T[] {
    return this.listValue(this.#fields[name], this.#name(name), item);
  }

  listValue<T>(
    value: unknown,
    name: string,
    item: (value: unknown, name: string) => T,
  ): readonly T[] {
    if (!Array.isArray(value)) this.#fail(TypeError, name, "an array", value);
    return Object.freeze((value as unknown[]).map((element, i) => item(element, `${name}[${i}]`)));
  }

  /** The `at` field, now when absent. */
  at(): Timestamp {
    const value = this.#fields.at;
    if (value === undefined) return new Date().toISOString();
    if (typeof value !== "string" || Number.isNaN(Date.parse(value))) {
      this.#fail(TypeError, this.#name("at"), "an ISO 8601 timestamp", value);
    }
    return value as string;
  }

  #name(name: string): string {
    return this.#prefix ? `${this.#prefix}.${name}` : name;
  }

  #fail(
    type: typeof TypeError | typeof RangeError,
    name: string,
    expected: string,
    value: unknown,
  ): never {
    throw new type(
      `Cannot create ${this.#what}: ${name} must be ${expected}, current value is ${
        typeof value === "string" ? JSON.stringify(value) : String(value)
      }`,
    );
  }
}
