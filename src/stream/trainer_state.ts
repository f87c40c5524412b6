/**
 * What a stream's state directory holds and how it is read and written: `state.json` (version,
 * kept head, alignment, steps, published assignments, reported refusals), the store, the
 * neighbour index and the networks of the last round. Each part is written crash-safely and
 * `state.json` last, so a crash at any moment leaves the previous state loadable.
 */
import { join } from "node:path";
import type { ScanConfig } from "../config.ts";
import { NeighbourIndex } from "../mining/neighbour_index.ts";
import { trainerStateSchema } from "../protocol/disk_state.ts";
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from "../util/atomic_write.ts";
import type { ImageStore } from "./store.ts";
import type { StreamModels } from "./stream_models.ts";

/** File names inside a state directory. */
export const STATE_FILES = Object.freeze({
  state: "state.json",
  store: "store",
  index: "neighbours.bin",
});

/** `state.json`: everything a restart needs besides the store, the index and the networks. */
export interface TrainerState {
  format: 1;
  /** The settings that shape the networks and the data; a restart must use the same. */
  shape: Pick<ScanConfig, "backbone" | "inputSize" | "clusters" | "heads" | "neighbours">;
  /** Directory (in the state directory) of the networks of the last round; null before one. */
  models: string | null;
  version: number;
  head: number;
  /** Head cluster -> stable cluster id. */
  permutation: number[];
  steps: { rounds: number; pretext: number; scan: number; selflabel: number };
  /** Images in the store at the last cluster update. */
  updatedAt: number;
  /** Published assignments: [id, stable cluster, confidence]. */
  assignments: [string, number, number][];
  /** Paths whose refusal was published. */
  refused: string[];
  /**
   * What was handed to the bus but not confirmed when the checkpoint was taken: the images (by
   * id) and the cluster-update and label events (as encoded). A restart publishes them again
   * with the same message ids, so a crash during an outage loses none of them and the ledger
   * keeps the ones that did arrive from being stored twice.
   */
  unpublished: Unpublished;
}

/** Publishes in flight at a checkpoint (see `TrainerState.unpublished`). */
export interface Unpublished {
  images: string[];
  events: { subject: "clusters" | "labels"; msgId: string; event: string }[];
}

/**
 * The state saved in `stateDir`, or a fresh one (also without a directory).
 *
 * @throws {Error} when the state was made with settings that shape the networks or the data
 *   differently (backbone, input size, clusters, heads, K).
 */
export async function openTrainerState(
  stateDir: string | undefined,
  config: ScanConfig,
): Promise<TrainerState> {
  const shape = {
    backbone: config.backbone,
    inputSize: config.inputSize,
    clusters: config.clusters,
    heads: config.heads,
    neighbours: config.neighbours,
  };
  const saved = stateDir === undefined
    ? undefined
    : await readJsonIfExists(join(stateDir, STATE_FILES.state), trainerStateSchema());
  if (saved !== undefined && JSON.stringify(saved.shape) !== JSON.stringify(shape)) {
    throw new Error(
      `Cannot resume the stream from ${stateDir}: it was made with ${
        JSON.stringify(saved.shape)
      }, and this run asks for ${JSON.stringify(shape)}; use another --state directory or ` +
        "the same settings",
    );
  }
  return saved ?? {
    format: 1,
    shape,
    models: null,
    version: 0,
    head: 0,
    permutation: Array.from({ length: config.clusters }, (_, c) => c),
    steps: { rounds: 0, pretext: 0, scan: 0, selflabel: 0 },
    updatedAt: 0,
    assignments: [],
    refused: [],
    unpublished: { images: [], events: [] },
  };
}

/** What a checkpoint writes besides `state.json`. */
export interface CheckpointParts {
  /** The neighbour index, as `NeighbourIndex.toBytes` gave it when the state was captured. */
  readonly index: Uint8Array;
  readonly store: ImageStore;
  /** The networks of the captured state's round; absent: the saved ones stay. */
  readonly serving?: StreamModels;
}

/**
 * Write a checkpoint: the networks (into a fresh directory, renamed into place), the store, the
 * index, then `state.json`, which names the networks; then remove the networks no state names.
 * Sets `state.models`. The directory `state.json` names now is never removed or replaced before
 * the new `state.json` is written: the networks of a round that already has a directory are
 * those (they only change at the end of a round), so they are not written again.
 */
export async function saveCheckpoint(
  dir: string,
  state: TrainerState,
  parts: CheckpointParts,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const name = `models-${state.steps.rounds}`;
  if (parts.serving !== undefined && state.models !== name) {
    const temp = join(dir, `${name}.tmp`);
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    await parts.serving.save(temp);
    // No state names `name`: a leftover of a crash before its state.json was written.
    await Deno.remove(join(dir, name), { recursive: true }).catch(() => {});
    await Deno.rename(temp, join(dir, name));
    state.models = name;
  }
  await parts.store.save(join(dir, STATE_FILES.store));
  await writeFileAtomic(join(dir, STATE_FILES.index), parts.index);
  await writeJsonAtomic(join(dir, STATE_FILES.state), state);
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory && entry.name.startsWith("models-") && entry.name !== state.models) {
      await Deno.remove(join(dir, entry.name), { recursive: true });
    }
  }
}

/**
 * The index saved beside `store`, when it matches the store's first images, K and the width of
 * the vectors mined on; else undefined.
 */
export async function loadIndex(
  stateDir: string | undefined,
  store: ImageStore,
  k: number,
  dim: number,
): Promise<NeighbourIndex | undefined> {
  if (stateDir === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(join(stateDir, STATE_FILES.index));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const index = NeighbourIndex.fromBytes(bytes);
  const ids = store.view().ids;
  const matches = index.k === k && index.dim === dim && index.size <= store.n &&
    Array.from({ length: index.size }, (_, i) => index.idOf(i) === ids[i]).every(Boolean);
  return matches ? index : undefined;
}
