/**
 * The stream's learner: it owns the image store, the neighbour index and the networks, serves
 * new images synchronously (embed, insert into the index, classify), and trains in bounded
 * rounds in the background (DESIGN.md, "The streaming form"):
 *
 * 1. pretext (SimCLR) steps on samples of the store;
 * 2. re-embed every image and re-mine the neighbour lists, since the backbone moved;
 * 3. SCAN steps on (anchor, neighbour) pairs, once the store and the backbone are ready; the
 *    head with the lowest SCAN loss over the store is kept;
 * 4. self-labelling steps on the kept head, once SCAN has had its steps;
 * 5. re-classify every image, align the new clusters to the previous ones (Hungarian on their
 *    overlap, so a cluster keeps its id), and describe what changed as a cluster update.
 *
 * Every training step and every pass over the store (re-embedding, classifying the store for
 * the new heads) runs in a pool of worker threads that holds the training networks
 * (src/parallel/): this thread only sends batches and awaits, so new images are served at once
 * whatever training is doing. Serving uses a snapshot of the networks taken from the pool at
 * the end of each round: an assignment always comes from the model version it names, with that
 * version's cluster ids.
 *
 * A state directory holds what a restart needs: the store, the neighbour index, the networks of
 * the last round and `state.json` (version, kept head, alignment, published assignments,
 * reported refusals). Each part is written crash-safely and `state.json` last, so a crash at any
 * moment leaves the previous state loadable.
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { PROJECTION_DIM, type ScanConfig } from "../config.ts";
import { type Dataset, gatherBatch } from "../data/dataset.ts";
import { labelledMetrics } from "../eval/metrics.ts";
import { miningDim, miningVectors } from "../mining/mining_vectors.ts";
import { NeighbourIndex } from "../mining/neighbour_index.ts";
import { argmaxRows } from "../operators/classify.ts";
import type { BackendName } from "../backend/backend.ts";
import { readWeights, writeWeights } from "../parallel/network_weights.ts";
import { defaultThreads } from "../parallel/threads.ts";
import { featureDim } from "../run/checkpoints.ts";
import { TrainingPool } from "../parallel/training_pool.ts";
import { concatFloat32, takeRows } from "../util/concat.ts";
import { alignClusters, applyAlignment } from "./align_clusters.ts";
import {
  type AssignmentEvent,
  assignmentEvent,
  type ClusterUpdateEvent,
  clusterUpdateEvent,
  diffAssignments,
  exemplars,
  type LabelEvent,
  labelEvent,
  type RoundLosses,
} from "./events.ts";
import { type RoundMemory, trainRound, warm } from "./round.ts";
import { coolingScale, type RoundConfig } from "./round_config.ts";
import { ImageStore, type StoredImage } from "./store.ts";
import {
  loadIndex,
  openTrainerState,
  saveCheckpoint,
  STATE_FILES,
  type TrainerState,
  type Unpublished,
} from "./trainer_state.ts";
import { RefusedPaths } from "./refused_paths.ts";
import { StreamModels } from "./stream_models.ts";

/** The published assignment of one image: stable cluster id and its confidence. */
interface Assigned {
  cluster: number;
  confidence: number;
}

/** What a round did, for progress lines. */
export interface RoundReport {
  readonly round: number;
  readonly images: number;
  readonly seconds: number;
  readonly losses: RoundLosses;
  /** The fraction of the learning rates the round trained at (below 1 while nothing arrives). */
  readonly learningRateScale: number;
  /**
   * Published images the round's model moved to another cluster, whether or not the update was
   * published (an update moving too few is not); null before the first clustering.
   */
  readonly moved: number | null;
  /** The update to publish, when the round changed the clustering (or made the first one). */
  readonly update: ClusterUpdateEvent | null;
  /** The pseudo-labels self-labelling accepted this round, in stable cluster ids; or null. */
  readonly labels: LabelEvent | null;
}

/**
 * Features of new images computed in another process (an embed worker) with the serving
 * networks of the current round, row j for the j-th image given to `add`.
 */
export interface ServedFeatures {
  /** L2-normalised pretext features `[n, 128]`: what the neighbour index holds. */
  readonly projected: Float32Array;
  /** Backbone features `[n, F]`: what the clustering heads read. */
  readonly backbone: Float32Array;
}

/** What serves new images now: the round its networks come from and how clusters are named. */
export interface ServingModel {
  /** Training rounds behind the serving networks: the checkpoint number. */
  readonly round: number;
  /** Clustering version of the assignments it makes (0: none yet). */
  readonly version: number;
  readonly head: number;
  /** Head cluster -> stable cluster id. */
  readonly permutation: readonly number[];
}

/** Options of `StreamTrainer.open`. */
export interface TrainerOptions {
  readonly config: ScanConfig;
  readonly rounds: RoundConfig;
  /** Where the state lives; without it nothing is persisted. */
  readonly stateDir?: string;
  /** Training threads (default: all cores but one, at least one). */
  readonly threads?: number;
  /** Their compute backend (default: this thread's). */
  readonly backend?: BackendName;
}

/** Yield to the event loop (a macrotask), so I/O callbacks and timers run between steps. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The stream's store, index, networks and training rounds. */
export class StreamTrainer {
  readonly config: ScanConfig;
  readonly rounds: RoundConfig;
  readonly stateDir: string | undefined;
  readonly store: ImageStore;
  /**
   * Awaited between training steps (default: one macrotask). The steps run in the pool, so this
   * thread is free during them anyway; tests use it to act between steps.
   */
  betweenSteps: () => Promise<void> = macrotask;
  readonly #index: NeighbourIndex;
  /** The training networks and every training computation. */
  readonly #pool: TrainingPool;
  readonly #serving: StreamModels;
  /** What rounds carry from one to the next besides the state. */
  readonly #memory: RoundMemory = { selflabelHead: -1, pretextSeconds: 0 };
  #state: TrainerState;
  readonly #assigned: Map<string, Assigned>;
  readonly #refused: RefusedPaths;
  /** Store indices without a published assignment, ascending. */
  #unassigned: number[];
  /** Backbone features of unassigned images, given to `add` for the serving round. */
  readonly #served = new Map<number, Float32Array>();
  /** Rounds in a row that changed nothing. */
  #quiet = 0;
  #imagesAtLastRound = -1;
  /** When a round last saw the store grow (or the trainer opened): cooling counts from it. */
  #grewAt = performance.now();
  #saving: Promise<void> = Promise.resolve();

  private constructor(
    options: TrainerOptions,
    state: TrainerState,
    store: ImageStore,
    index: NeighbourIndex,
    pool: TrainingPool,
    serving: StreamModels,
  ) {
    this.config = options.config;
    this.rounds = options.rounds;
    this.stateDir = options.stateDir;
    this.store = store;
    this.#index = index;
    this.#pool = pool;
    this.#serving = serving;
    this.#state = state;
    this.#assigned = new Map(state.assignments.map(([id, cluster, confidence]) => [
      id,
      { cluster, confidence },
    ]));
    this.#refused = new RefusedPaths(state.refused);
    this.#unassigned = [];
    store.view().ids.forEach((id, i) => {
      if (!this.#assigned.has(id)) this.#unassigned.push(i);
    });
  }

  /**
   * A trainer resumed from `stateDir` when it holds a state, else a fresh one.
   *
   * @throws {Error} when the state was made with settings that shape the networks or the data
   *   differently (backbone, input size, clusters, heads, K).
   */
  static async open(options: TrainerOptions): Promise<StreamTrainer> {
    const { config, stateDir } = options;
    const state = await openTrainerState(stateDir, config);
    // The networks of the last round serve, and the pool trains from a copy of them.
    const serving = state.models === null
      ? StreamModels.build(config)
      : await StreamModels.load(join(stateDir!, state.models));
    const pool = await TrainingPool.open({
      threads: options.threads ?? defaultThreads("serve"),
      backend: options.backend ?? (tf.getBackend() as BackendName),
      config,
      weights: readWeights(serving),
    });
    const store = stateDir === undefined
      ? new ImageStore(config.inputSize)
      : await ImageStore.load(join(stateDir, STATE_FILES.store), config.inputSize);
    // The index holds what neighbours are mined on (`mineOn`); one of another width is rebuilt.
    const dim = miningDim(
      config.mineOn,
      featureDim(serving.backbone),
      PROJECTION_DIM,
      config.inputSize,
    );
    const index = await loadIndex(stateDir, store, config.neighbours, dim) ??
      new NeighbourIndex(dim, config.neighbours);
    // Images the store saved after the index was: embed them as `add` would have.
    const view = store.view();
    const missing = Array.from({ length: view.n - index.size }, (_, j) => index.size + j);
    if (missing.length > 0) {
      const features = serving.miningVectors(view, missing, config.mineOn);
      index.addBatch(missing.map((i) => view.ids[i]), features, missing.length);
    }
    return new StreamTrainer(options, state, store, index, pool, serving);
  }

  /** The model version of the published assignments; 0 before the first clustering. */
  get version(): number {
    return this.#state.version;
  }

  /** Whether a clustering exists, so images can be assigned. */
  get clustering(): boolean {
    return this.#state.version > 0;
  }

  /** The networks that serve new images, as another process must name them. */
  get serving(): ServingModel {
    return {
      round: this.#state.steps.rounds,
      version: this.#state.version,
      head: this.#state.head,
      permutation: [...this.#state.permutation],
    };
  }

  /** Training threads. */
  get threads(): number {
    return this.#pool.threads;
  }

  /** Training steps taken so far, per stage, and rounds. */
  get steps(): Readonly<TrainerState["steps"]> {
    return { ...this.#state.steps };
  }

  /**
   * Whether training would change nothing now: `patience` rounds in a row changed nothing and no
   * image arrived since, or the backbone is warm but the store too small for SCAN.
   */
  get resting(): boolean {
    const unchangedStore = this.store.n === this.#imagesAtLastRound;
    if (!this.clustering) {
      return unchangedStore && warm(this.rounds, this.#state.steps.pretext, this.#memory) &&
        this.store.n < this.rounds.minImages;
    }
    return unchangedStore && this.#quiet >= this.rounds.patience;
  }

  /**
   * The neighbour list of stored image `id`, most similar first, itself left out; undefined for
   * an id not stored. A copy: for read-only views of the stream (the live board).
   */
  neighboursOf(id: string): { id: string; similarity: number }[] | undefined {
    const i = this.#index.indexOf(id);
    if (i < 0) return undefined;
    const list = this.#index.neighboursOf(i);
    return Array.from(list.indices, (j, r) => ({
      id: this.#index.idOf(j),
      similarity: list.similarities[r],
    })).filter((neighbour) => neighbour.id !== id);
  }

  /** Whether `path`'s refusal has been reported (on the bus) in this run or a saved one. */
  refusalReported(path: string): boolean {
    return this.#refused.has(path);
  }

  /**
   * Whether `path`'s refusal still has to be reported, and note that it has been: a restart
   * that meets the same bad file again does not report it twice. The stream calls it once the
   * bus has the refusal, so a crash before that reports it again after the restart.
   */
  reportRefusal(path: string): boolean {
    if (this.#refused.has(path)) return false;
    this.#refused.add(path);
    return true;
  }

  /**
   * What the last checkpoint saw handed to the bus but not confirmed (images by id, cluster
   * updates and labels as encoded), for the stream to publish again at start.
   */
  get unpublished(): Unpublished {
    return structuredClone(this.#state.unpublished);
  }

  /**
   * Store new images (a known content id is skipped), embed them with the serving backbone and
   * insert them into the neighbour index. Synchronous, so it never interleaves with a training
   * step.
   *
   * @param served their features, when another process computed them with the serving
   *   networks (`serving.round`); without them the serving backbone embeds them here.
   * @returns the images that were new.
   */
  add(images: readonly StoredImage[], served?: ServedFeatures): StoredImage[] {
    const added: StoredImage[] = [];
    const indices: number[] = [];
    const given: number[] = [];
    images.forEach((image, j) => {
      const { index, added: isNew } = this.store.add(image);
      if (!isNew) return;
      added.push(image);
      indices.push(index);
      given.push(j);
    });
    if (added.length === 0) return added;
    let features: Float32Array;
    if (served === undefined) {
      features = this.#serving.miningVectors(this.store.view(), indices, this.config.mineOn);
    } else {
      const dim = served.backbone.length / images.length;
      const view = this.store.view();
      const backbone = takeRows(served.backbone, dim, given);
      features = miningVectors(
        this.config.mineOn,
        { backbone, projected: takeRows(served.projected, PROJECTION_DIM, given) },
        indices.length,
        gatherBatch(view, indices).data,
        view.size,
      );
      indices.forEach((i, r) => this.#served.set(i, backbone.slice(r * dim, (r + 1) * dim)));
    }
    this.#index.addBatch(added.map((image) => image.id), features, added.length);
    this.#unassigned.push(...indices);
    return added;
  }

  /**
   * Assign every stored image that has no published assignment yet, with the serving model,
   * and mark them published; empty before the first clustering. Synchronous.
   */
  assignPending(): AssignmentEvent[] {
    if (!this.clustering || this.#unassigned.length === 0) return [];
    const indices = this.#unassigned;
    this.#unassigned = [];
    const view = this.store.view();
    const probabilities = this.#servingProbabilities(view, indices);
    const best = argmaxRows(probabilities, indices.length, this.config.clusters);
    return indices.map((i, j) => {
      const cluster = this.#state.permutation[best.clusters[j]];
      const confidence = Math.min(1, Math.max(0, best.confidence[j]));
      this.#assigned.set(view.ids[i], { cluster, confidence });
      return assignmentEvent({
        id: view.ids[i],
        path: view.paths[i],
        cluster,
        confidence,
        modelVersion: this.#state.version,
      });
    });
  }

  /** Serving probabilities of `indices`: the heads alone where `add` was given features. */
  #servingProbabilities(view: Dataset, indices: readonly number[]): Float32Array {
    const { clusters } = this.config;
    const head = this.#state.head;
    const given = indices.filter((i) => this.#served.has(i));
    const rest = indices.filter((i) => !this.#served.has(i));
    const fromFeatures = given.length === 0 ? new Float32Array(0) : this.#serving.probabilitiesOf(
      concatFloat32(given.map((i) => this.#served.get(i)!)),
      given.length,
      head,
    );
    const fromPixels = rest.length === 0
      ? new Float32Array(0)
      : this.#serving.probabilities(view, head, rest);
    const out = new Float32Array(indices.length * clusters);
    let g = 0;
    let r = 0;
    indices.forEach((i, j) => {
      const row = this.#served.has(i)
        ? fromFeatures.subarray(g * clusters, ++g * clusters)
        : fromPixels.subarray(r * clusters, ++r * clusters);
      out.set(row, j * clusters);
      this.#served.delete(i);
    });
    return out;
  }

  /**
   * One bounded training round. Returns null when there is nothing to train on or `signal` was
   * aborted between two steps (the round's work is then dropped: the serving model and the
   * published clustering stay as they were).
   */
  async round(signal?: AbortSignal): Promise<RoundReport | null> {
    const started = performance.now();
    if (this.store.n < 2) return null;
    // Steps are counted on a copy and committed with the round: an aborted round leaves no
    // trace in the state.
    const grewAt = this.store.n === this.#imagesAtLastRound ? this.#grewAt : started;
    const learningRateScale = coolingScale(
      (started - grewAt) / 1000,
      this.rounds.coolingSeconds,
    );
    const outcome = await trainRound(
      {
        config: this.config,
        rounds: this.rounds,
        pool: this.#pool,
        store: this.store,
        index: this.#index,
        betweenSteps: () => this.betweenSteps(),
        memory: this.#memory,
        learningRateScale,
      },
      { ...this.#state.steps },
      this.#state.head,
      signal,
    );
    if (outcome === null) return null;
    const { steps, head, weights, frozen, losses, accepted } = outcome;
    const { config } = this;

    // From here to the end the round is synchronous: the new model, its alignment and the
    // published assignments change together.
    this.#state.steps = steps;
    this.#state.head = head;
    writeWeights(this.#serving, weights);
    // Features from the previous networks would mislead the new heads.
    this.#served.clear();
    const clustered = steps.scan > 0 ? this.#recluster(losses, frozen) : null;
    this.#grewAt = grewAt;
    this.#imagesAtLastRound = this.store.n;
    return {
      round: steps.rounds,
      images: this.store.n,
      seconds: (performance.now() - started) / 1000,
      losses,
      learningRateScale,
      moved: clustered?.moved ?? null,
      update: clustered?.update ?? null,
      labels: accepted.size === 0 ? null : labelEvent({
        modelVersion: this.#state.version,
        threshold: config.confidenceThreshold,
        // Stable ids, through the alignment `#recluster` just made.
        labels: [...accepted].map(([id, l]) => ({
          id,
          cluster: this.#state.permutation[l.cluster],
          confidence: l.confidence,
        })),
      }),
    };
  }

  /**
   * Classify every image with the new serving model, align its clusters to the published ones,
   * update the published assignments, and describe the change (`update`, null when it is not
   * worth telling); `moved` counts the published images the new model moved either way.
   */
  #recluster(
    losses: RoundLosses,
    frozen?: { features: Float32Array; n: number },
  ): { update: ClusterUpdateEvent | null; moved: number } {
    const { clusters } = this.config;
    const view = this.store.view();
    const head = this.#state.head;
    let probabilities: Float32Array;
    if (frozen === undefined) {
      probabilities = this.#serving.probabilities(view, head);
    } else {
      // Images stored after the embedding pass take the backbone pass.
      const later = Array.from({ length: view.n - frozen.n }, (_, i) => frozen.n + i);
      probabilities = concatFloat32([
        this.#serving.probabilitiesOf(frozen.features, frozen.n, head),
        ...(later.length > 0 ? [this.#serving.probabilities(view, head, later)] : []),
      ]);
    }
    const raw = argmaxRows(probabilities, view.n, clusters);
    const previous = Int32Array.from(view.ids, (id) => this.#assigned.get(id)?.cluster ?? -1);
    const permutation = alignClusters(previous, raw.clusters, clusters);
    const stable = applyAlignment(raw.clusters, permutation);
    this.#state.permutation = Array.from(permutation);
    const confidence = Float32Array.from(raw.confidence);
    settle(stable, confidence, previous, probabilities, permutation, this.rounds.moveMargin);

    // Moves are reported for published images; the others are assigned right after the round.
    const before = new Map<string, number>();
    const published = new Map<string, number>();
    view.ids.forEach((id, i) => {
      if (previous[i] < 0) return;
      before.set(id, previous[i]);
      published.set(id, stable[i]);
    });
    const diff = diffAssignments(before, published, clusters);
    const moved = diff.moved.length;
    const first = this.#state.version === 0;
    const arrived = view.n !== this.#state.updatedAt;
    if (
      !first && !arrived &&
      moved < Math.max(1, this.rounds.minMovedFraction * view.n)
    ) {
      // Nothing worth telling: the published clusters stay as they are.
      this.#quiet++;
      return { update: null, moved };
    }
    const all = new Map<string, number>();
    const confidences = new Map<string, number>();
    view.ids.forEach((id, i) => {
      all.set(id, stable[i]);
      confidences.set(id, confidence[i]);
      if (previous[i] >= 0) {
        this.#assigned.set(id, { cluster: stable[i], confidence: confidence[i] });
      }
    });
    this.#quiet = 0;
    this.#state.version++;
    this.#state.updatedAt = view.n;
    const sizes = new Array<number>(clusters).fill(0);
    for (const c of stable) sizes[c]++;
    const update = clusterUpdateEvent({
      version: this.#state.version,
      sizes,
      moved: diff.moved,
      exemplars: exemplars(all, confidences, clusters, this.rounds.exemplars),
      losses,
      images: view.n,
      ...metricsOf(view, stable),
    });
    return { update, moved };
  }

  /**
   * Persist the state (a no-op without a state directory): with `models`, the networks of the
   * last round go to a fresh directory first. Checkpoints run one at a time.
   *
   * @param unconfirmed ids whose assignment event is not on the bus yet (read when the state is
   *   captured): saved as unassigned, so a restart after a crash assigns and publishes them again
   *   instead of losing their event (the event's message id makes a repeat count once).
   * @param unpublished other publishes not on the bus yet (read when the state is captured):
   *   saved as they are, for the next start to publish again (`unpublished`).
   */
  checkpoint(
    models: boolean,
    unconfirmed?: ReadonlySet<string>,
    unpublished?: () => Unpublished,
  ): Promise<void> {
    const run = this.#saving.then(() => this.#checkpoint(models, unconfirmed, unpublished));
    this.#saving = run.catch(() => {});
    return run;
  }

  async #checkpoint(
    models: boolean,
    unconfirmed?: ReadonlySet<string>,
    unpublished?: () => Unpublished,
  ): Promise<void> {
    const dir = this.stateDir;
    if (dir === undefined) return;
    // What state.json will say is captured now, in one synchronous section, so the index and the
    // published assignments never name an image the store has not saved: the store only grows.
    const state: TrainerState = {
      ...structuredClone(this.#state),
      assignments: [...this.#assigned]
        .filter(([id]) => !unconfirmed?.has(id))
        .map(([id, a]) => [id, a.cluster, a.confidence]),
      refused: [...this.#refused],
      unpublished: unpublished?.() ?? { images: [], events: [] },
    };
    await saveCheckpoint(dir, state, {
      index: this.#index.toBytes(),
      store: this.store,
      // The serving networks only change at the end of a round, and the next round waits for
      // this checkpoint, so they are those of the captured state throughout the save.
      serving: models ? this.#serving : undefined,
    });
    this.#state.models = state.models;
  }

  /** Wait for running checkpoints, then free the networks and optimisers. */
  async dispose(): Promise<void> {
    await this.#saving;
    await this.#pool.close();
    this.#serving.dispose();
    this.#index.dispose();
  }
}

/** Accuracy, NMI and ARI over the images with a known class; nothing when none has one. */
function metricsOf(
  view: Dataset,
  predicted: Int32Array,
): { accuracy?: number; nmi?: number; ari?: number } {
  if (view.labels === undefined) return {};
  const metrics = labelledMetrics(view.labels, predicted, view.classNames?.length);
  if (!metrics) return {};
  const { accuracy, nmi, ari } = metrics;
  // NMI and ARI can fall a rounding error outside their range.
  const clamp = (x: number, lo: number) => Math.min(1, Math.max(lo, x));
  return { accuracy, nmi: clamp(nmi, 0), ari: clamp(ari, -1) };
}

/**
 * Hysteresis on the moves of published images: image i keeps its published cluster unless the
 * new model finds its best cluster more probable than the published one by `margin`; its
 * confidence is then that of the kept cluster. `stable` and `confidence` are updated in place.
 *
 * @param previous published stable cluster per image, -1 where none
 * @param probabilities `[n, C]` in the head's own cluster ids
 * @param permutation head cluster -> stable cluster id
 */
export function settle(
  stable: Int32Array,
  confidence: Float32Array,
  previous: Int32Array,
  probabilities: Float32Array,
  permutation: ArrayLike<number>,
  margin: number,
): void {
  const clusters = permutation.length;
  const headOf = new Int32Array(clusters);
  for (let h = 0; h < clusters; h++) headOf[permutation[h]] = h;
  for (let i = 0; i < stable.length; i++) {
    const kept = previous[i];
    if (kept < 0 || kept === stable[i]) continue;
    const keptProbability = probabilities[i * clusters + headOf[kept]];
    if (confidence[i] - keptProbability < margin) {
      stable[i] = kept;
      confidence[i] = keptProbability;
    }
  }
}

export { STATE_FILES } from "./trainer_state.ts";
