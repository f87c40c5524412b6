/**
 * Neighbour lists of a stream of features that each carry the checkpoint that computed them
 * (the mine stage's core, without the bus): one incremental `NeighbourIndex` for the newest
 * checkpoint seen. Features of two checkpoints are not comparable (the backbone moved between
 * them), so the first feature of a newer checkpoint starts a fresh, empty index, and features of
 * an older checkpoint that arrive after it are ignored: nobody could rank them against the
 * newer ones.
 *
 * ```
 * features(c) ─ c < current: ignored ─ c > current: fresh index ─ index.addBatch ─▶ changed lists
 * ```
 */
import { NeighbourIndex, type NeighbourIndexOptions } from "./neighbour_index.ts";

/** One image's features as the mine stage receives them. */
export interface CheckpointFeature {
  readonly id: string;
  /** The checkpoint whose networks computed `feature`. */
  readonly checkpoint: number;
  /** Pretext features (what SCAN mines neighbours from); need not be normalised. */
  readonly feature: Float32Array;
}

/** An image's list in the index of one checkpoint. */
export interface NeighbourList {
  readonly id: string;
  readonly checkpoint: number;
  /** The image itself first, then the most similar images: `min(k, images of checkpoint)`. */
  readonly ids: string[];
  readonly similarities: Float32Array;
}

/** An image's list after a change. */
export interface ChangedList extends NeighbourList {
  /** `added`: the image is new to the index; `updated`: a newer image entered its list. */
  readonly change: "added" | "updated";
}

/** What one `add` did. */
export interface MiningStep {
  /** Every list that is new or changed, in order: a run's new images, then its updated lists. */
  readonly lists: ChangedList[];
  /** Checkpoints that started a fresh index, in order. */
  readonly started: number[];
  /** Features of a checkpoint older than the newest one seen. */
  readonly ignored: number;
  /** Features of an image the index of their checkpoint already holds (a redelivery). */
  readonly repeated: number;
  /** Features that cannot be indexed, with the reason (the stream goes on without them). */
  readonly refused: { id: string; reason: string }[];
}

/** Incremental exact kNN lists of the newest checkpoint's features. */
export class CheckpointNeighbours {
  readonly k: number;
  readonly #options: NeighbourIndexOptions;
  #checkpoint = -1;
  #index: NeighbourIndex | undefined;

  /**
   * @param k list length, the image itself included (the pipeline's `neighbours`).
   * @param options index tuning, for tests.
   * @throws {RangeError} when `k` is not a positive integer.
   */
  constructor(k: number, options: NeighbourIndexOptions = {}) {
    if (!Number.isInteger(k) || k < 1) {
      throw new RangeError(
        `Cannot create checkpoint neighbours: k must be a positive integer, current value is ${k}`,
      );
    }
    this.k = k;
    this.#options = options;
  }

  /** The newest checkpoint seen; -1 before any feature. */
  get checkpoint(): number {
    return this.#checkpoint;
  }

  /** Images in the index of the newest checkpoint. */
  get size(): number {
    return this.#index?.size ?? 0;
  }

  /** The current list of `id`, or undefined when the newest checkpoint's index lacks it. */
  listOf(id: string): NeighbourList | undefined {
    const i = this.#index?.indexOf(id) ?? -1;
    return i < 0 ? undefined : this.#list(i);
  }

  /**
   * Take features in arrival order: the same result as taking them one at a time, each run of
   * one checkpoint added to the index as one batch.
   */
  add(features: readonly CheckpointFeature[]): MiningStep {
    const step: { -readonly [P in keyof MiningStep]: MiningStep[P] } = {
      lists: [],
      started: [],
      ignored: 0,
      repeated: 0,
      refused: [],
    };
    let run: CheckpointFeature[] = [];
    const inRun = new Set<string>();
    const flush = () => {
      if (run.length > 0) step.lists.push(...this.#addRun(run));
      run = [];
      inRun.clear();
    };
    for (const item of features) {
      if (item.checkpoint < this.#checkpoint) {
        step.ignored++;
        continue;
      }
      // Checked before the checkpoint counts: one broken message must not drop the index.
      const broken = brokenFeature(item);
      if (broken !== undefined) {
        step.refused.push({ id: item.id, reason: broken });
        continue;
      }
      if (item.checkpoint > this.#checkpoint) {
        flush();
        this.#index?.dispose();
        this.#index = new NeighbourIndex(item.feature.length, this.k, this.#options);
        this.#checkpoint = item.checkpoint;
        step.started.push(item.checkpoint);
      }
      const index = this.#index!;
      if (item.feature.length !== index.dim) {
        step.refused.push({
          id: item.id,
          reason: `Cannot mine the neighbours of image ${item.id}: checkpoint ` +
            `${item.checkpoint} features have ${index.dim} values, current length is ` +
            `${item.feature.length}`,
        });
        continue;
      }
      if (index.has(item.id) || inRun.has(item.id)) {
        step.repeated++;
        continue;
      }
      run.push(item);
      inRun.add(item.id);
    }
    flush();
    return step;
  }

  /** Free the index's backend memory. */
  dispose(): void {
    this.#index?.dispose();
  }

  #addRun(run: readonly CheckpointFeature[]): ChangedList[] {
    const index = this.#index!;
    const features = new Float32Array(run.length * index.dim);
    run.forEach((item, t) => features.set(item.feature, t * index.dim));
    const added = index.addBatch(run.map((item) => item.id), features, run.length);
    return [
      ...Array.from(added.indices, (i) => ({ ...this.#list(i), change: "added" as const })),
      ...added.updated.map((i) => ({ ...this.#list(i), change: "updated" as const })),
    ];
  }

  #list(i: number): NeighbourList {
    const index = this.#index!;
    const { indices, similarities } = index.neighboursOf(i);
    return {
      id: index.idOf(i),
      checkpoint: this.#checkpoint,
      ids: Array.from(indices, (j) => index.idOf(j)),
      similarities,
    };
  }
}

/** Why `item`'s feature cannot be indexed at all, or undefined. */
function brokenFeature(item: CheckpointFeature): string | undefined {
  if (item.feature.length === 0) {
    return `Cannot mine the neighbours of image ${item.id}: features must not be empty, current ` +
      "length is 0";
  }
  const bad = item.feature.findIndex((v) => !Number.isFinite(v));
  if (bad < 0) return undefined;
  return `Cannot mine the neighbours of image ${item.id}: features must be finite, current ` +
    `value at ${bad} is ${item.feature[bad]}`;
}
