/**
 * The state that the processes of one pipeline share, kept in NATS so any client can read it:
 *
 * - KV `scan_<p>_assignments`: image id -> its current assignment (cluster, confidence, model
 *   version, path), written by the cluster stage on each assignment and each move;
 * - KV `scan_<p>_state`: `config` (the settings every stage must agree on), `model` (the latest
 *   checkpoint's announcement) and `summary` (images, clusters, version);
 * - KV `scan_<p>_neighbours`: image id -> its current neighbour list (checkpoint, ids,
 *   similarities), written by the mine stage for each new image and each list a newer image
 *   entered;
 * - KV `scan_<p>_workers`: one heartbeat per live worker; entries expire after
 *   `HEARTBEAT_TTL_MS`, so a worker that died is gone from it without anyone cleaning up;
 * - Object Store `scan_<p>_models`: the checkpoints, one object per file, `<version>/<file>`.
 */
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { type KV, Kvm } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import { objectFile } from "../protocol/models.ts";
import { parseJson, type Schema } from "../protocol/parse.ts";
import { heartbeatSchema } from "../protocol/kv.ts";
import { printable } from "../util/quote.ts";
import { listObjects, readObject } from "./object_reads.ts";
import { validatePipelineName } from "./subjects.ts";

/** How long a heartbeat lives; workers beat every `HEARTBEAT_MS`. */
export const HEARTBEAT_TTL_MS = 10_000;
export const HEARTBEAT_MS = 2_000;
/** Checkpoints kept in the Object Store: the newest few, for workers still loading one. */
const KEPT_CHECKPOINTS = 3;

/** Bucket names of pipeline `pipeline`. */
export function bucketNames(pipeline: string) {
  const p = validatePipelineName(pipeline);
  return Object.freeze({
    assignments: `scan_${p}_assignments`,
    state: `scan_${p}_state`,
    workers: `scan_${p}_workers`,
    neighbours: `scan_${p}_neighbours`,
    models: `scan_${p}_models`,
  });
}

// The values' types come from their schemas (src/protocol/kv.ts, src/protocol/models.ts).
export type {
  Heartbeat,
  PipelineSummary,
  StoredAssignment,
  StoredNeighbours,
} from "../protocol/kv.ts";
export type { CheckpointAnnouncement } from "../protocol/models.ts";
import type { Heartbeat } from "../protocol/kv.ts";

const encoder = new TextEncoder();

/** The shared state of one pipeline, opened (buckets created when missing). */
export class PipelineState {
  readonly assignments: KV;
  readonly state: KV;
  readonly workers: KV;
  readonly neighbours: KV;
  readonly models: ObjectStore;

  private constructor(
    assignments: KV,
    state: KV,
    workers: KV,
    neighbours: KV,
    models: ObjectStore,
  ) {
    this.assignments = assignments;
    this.state = state;
    this.workers = workers;
    this.neighbours = neighbours;
    this.models = models;
  }

  static async open(nc: NatsConnection, pipeline: string): Promise<PipelineState> {
    const names = bucketNames(pipeline);
    const kvm = new Kvm(nc);
    return new PipelineState(
      await kvm.create(names.assignments),
      await kvm.create(names.state),
      await kvm.create(names.workers, { ttl: HEARTBEAT_TTL_MS }),
      await kvm.create(names.neighbours),
      await new Objm(nc).create(names.models),
    );
  }

  /**
   * The JSON value at `key` checked by `schema`, or undefined when there is none (or it was
   * deleted).
   *
   * @throws {ProtocolError | RangeError} when the value is not JSON or fails the schema.
   */
  static async read<T>(kv: KV, key: string, schema: Schema<T>): Promise<T | undefined> {
    const entry = await kv.get(key);
    if (entry === null || entry.operation !== "PUT" || entry.value.length === 0) return undefined;
    return parseJson(schema, entry.value, `KV value ${printable(entry.bucket)}/${printable(key)}`);
  }

  static write(kv: KV, key: string, value: unknown): Promise<number> {
    return kv.put(key, encoder.encode(JSON.stringify(value)));
  }

  /** Every live heartbeat (expired ones are gone). */
  async heartbeats(): Promise<Heartbeat[]> {
    const out: Heartbeat[] = [];
    for await (const key of await this.workers.keys()) {
      try {
        const beat = await PipelineState.read(this.workers, key, heartbeatSchema());
        if (beat !== undefined) out.push(beat);
      } catch {
        // A malformed heartbeat is no live worker; it expires with the TTL.
      }
    }
    return out.sort((a, b) => a.stage.localeCompare(b.stage) || a.id.localeCompare(b.id));
  }

  /**
   * Put the files of checkpoint directory `dir` into the models store as `<checkpoint>/<file>`,
   * and drop checkpoints older than the newest few.
   *
   * @returns the object name prefix.
   */
  async uploadCheckpoint(checkpoint: number, dir: string): Promise<string> {
    const prefix = String(checkpoint);
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      await this.models.putBlob(
        { name: `${prefix}/${entry.name}` },
        await Deno.readFile(join(dir, entry.name)),
      );
    }
    const old = new Set<string>();
    for (const info of await listObjects(this.models)) {
      const version = Number(info.name.split("/")[0]);
      if (version <= checkpoint - KEPT_CHECKPOINTS) old.add(info.name);
    }
    for (const name of old) await this.models.delete(name);
    return prefix;
  }

  /**
   * Write the files of the checkpoint at `prefix` into `dir`.
   *
   * @throws {Error} when the store holds no file under `prefix` (dropped as too old).
   */
  async downloadCheckpoint(prefix: string, dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    let files = 0;
    if (!/^[0-9]{1,10}$/.test(prefix)) {
      throw new RangeError(
        `Cannot load checkpoint: a prefix must be a checkpoint number, current value is ` +
          JSON.stringify(prefix).slice(0, 80),
      );
    }
    for (const info of await listObjects(this.models)) {
      // Only `<prefix>/<plain file name>`: a name with `/` or `..` never reaches a path join.
      const file = objectFile(info.name, prefix);
      if (file === undefined) continue;
      const bytes = await readObject(this.models, info.name);
      if (bytes === null) continue;
      await Deno.writeFile(join(dir, file), bytes);
      files++;
    }
    if (files === 0) {
      throw new Error(
        `Cannot load checkpoint: the models store holds no file under ${prefix}/, current ` +
          "checkpoints were probably replaced by newer ones",
      );
    }
  }
}

/**
 * Beat every `HEARTBEAT_MS` into the workers bucket until the returned function is called,
 * which deletes the entry (a clean stop is gone at once, a crash after the TTL).
 */
export function startHeartbeat(
  state: PipelineState,
  beat: () => Omit<Heartbeat, "at">,
): () => Promise<void> {
  let last: Promise<unknown> = Promise.resolve();
  const send = () => {
    last = last.then(() =>
      PipelineState.write(state.workers, beat().id, { ...beat(), at: new Date().toISOString() })
    ).catch(() => {});
  };
  send();
  const timer = setInterval(send, HEARTBEAT_MS);
  return async () => {
    clearInterval(timer);
    await last;
    await state.workers.delete(beat().id).catch(() => {});
  };
}
