/**
 * One bounded training round of the stream (DESIGN.md, "The streaming form"), all of its compute
 * in the training pool, so the thread that awaits it keeps serving:
 *
 * 1. pretext (SimCLR) steps on samples of the store, data-parallel;
 * 2. re-embed every image and re-mine the neighbour lists, since the backbone moved; the index
 *    is swapped in one synchronous section, images stored meanwhile added to it incrementally;
 * 3. SCAN steps on (anchor, neighbour) pairs, once the store and the backbone are ready; the head
 *    with the lowest SCAN loss over the store is kept;
 * 4. self-labelling steps on the kept head, once SCAN has had its steps;
 * 5. the round's networks (and, with a trained backbone, the store's features under them), for
 *    the trainer to swap in, serve with and re-cluster the store.
 */
import { augmentationOf, type ScanConfig } from "../config.ts";
import { miningVectors } from "../mining/mining_vectors.ts";
import { gatherBatch } from "../data/dataset.ts";
import type { NeighbourIndex } from "../mining/neighbour_index.ts";
import type { NetworkWeights } from "../parallel/network_weights.ts";
import type { TrainingPool } from "../parallel/training_pool.ts";
import type { ScanLosses } from "../stages/scan.ts";
import { concatFloat32, takeRows } from "../util/concat.ts";
import type { Random } from "../util/random.ts";
import { RandomStreams } from "../util/random_streams.ts";
import type { RoundLosses } from "./events.ts";
import type { RoundConfig } from "./round_config.ts";
import type { ImageStore } from "./store.ts";

/** What a round works with; it changes the index (the swap) and nothing else outside itself. */
export interface RoundContext {
  readonly config: ScanConfig;
  readonly rounds: RoundConfig;
  readonly pool: TrainingPool;
  readonly store: ImageStore;
  readonly index: NeighbourIndex;
  /** Awaited between steps. */
  readonly betweenSteps: () => Promise<void>;
  readonly memory: RoundMemory;
  /**
   * The fraction of each stage's learning rate this round trains at: below 1 while no image
   * arrives, so the clusters settle (`coolingScale`).
   */
  readonly learningRateScale: number;
}

/** What rounds carry from one to the next outside the saved state, whether or not they finish. */
export interface RoundMemory {
  /** The kept head the pool's self-labelling optimiser was made for; -1: none yet. */
  selflabelHead: number;
  /** Seconds of pretext steps in this run (for the warm-up; not saved: steps are). */
  pretextSeconds: number;
}

/** Steps taken so far, per stage, and rounds. */
export interface RoundSteps {
  rounds: number;
  pretext: number;
  scan: number;
  selflabel: number;
}

/** What a finished round hands back, for the trainer to commit in one synchronous section. */
export interface RoundOutcome {
  /** The steps after this round (rounds counted). */
  readonly steps: RoundSteps;
  /** The kept head. */
  readonly head: number;
  /** The round's networks. */
  readonly weights: NetworkWeights;
  /** Backbone features of the first `n` stored images under them, when the round has them. */
  readonly frozen?: { readonly features: Float32Array; readonly n: number };
  readonly losses: RoundLosses;
  /** Image id -> pseudo-label in the head's own cluster ids (the latest one of the round). */
  readonly accepted: ReadonlyMap<string, { cluster: number; confidence: number }>;
}

/** Whether the backbone has had its warm-up: enough pretext steps, or seconds of them. */
export function warm(rounds: RoundConfig, pretextSteps: number, memory: RoundMemory): boolean {
  return pretextSteps >= rounds.warmupSteps || memory.pretextSeconds >= rounds.warmupSeconds;
}

/**
 * One round from `steps` with kept head `head`. Resolves to null when `signal` aborted between
 * two steps (the round's networks and losses are dropped; the index keeps the swap, which only
 * made its lists current).
 */
export async function trainRound(
  ctx: RoundContext,
  steps: RoundSteps,
  head: number,
  signal?: AbortSignal,
): Promise<RoundOutcome | null> {
  const { rounds, config, pool, store, index, memory } = ctx;
  const rng = new RandomStreams(config.seed).random("round.batches", steps.rounds);
  // A batch from the images stored now; more may arrive between steps.
  const sampled = (size: number) => {
    const view = store.view();
    return gatherBatch(view, sample(view.n, size, rng));
  };

  const pretextLosses: number[] = [];
  for (let s = 0; s < rounds.pretextSteps; s++) {
    await ctx.betweenSteps();
    if (signal?.aborted) return null;
    const stepStarted = performance.now();
    const { loss } = await pool.pretextStep(sampled(config.pretext.batchSize), {
      learningRate: config.pretext.learningRate * ctx.learningRateScale,
      temperature: config.temperature,
      seed: rng.int(2 ** 31),
      augmentation: augmentationOf(config),
    });
    memory.pretextSeconds += (performance.now() - stepStarted) / 1000;
    pretextLosses.push(loss);
    steps.pretext++;
  }

  // The backbone moved: re-embed and re-mine, both in the pool (a full mining is O(N^2), about
  // a second at 10,000 images). Images stored meanwhile are embedded after, until a pass finds
  // none new, and go into the index incrementally once it holds the re-mined lists.
  let view = store.view();
  const images = gatherBatch(view, range(view.n));
  const embedded = await pool.embed(images);
  if (signal?.aborted) return null;
  // What neighbours are mined on (`mineOn`): the projections, or backbone features and pixels.
  const vectors = miningVectors(config.mineOn, embedded, view.n, images.data, view.size);
  const mined = await pool.mine(
    vectors,
    view.n,
    index.dim,
    Math.min(config.neighbours, view.n),
  );
  if (signal?.aborted) return null;
  const later = { backbone: [] as Float32Array[], vectors: [] as Float32Array[] };
  let embeddedUpTo = view.n;
  for (let grown = store.view(); grown.n > embeddedUpTo; grown = store.view()) {
    const more = Array.from({ length: grown.n - embeddedUpTo }, (_, i) => embeddedUpTo + i);
    const batch = gatherBatch(grown, more);
    const extra = await pool.embed(batch);
    if (signal?.aborted) return null;
    later.backbone.push(extra.backbone);
    later.vectors.push(miningVectors(config.mineOn, extra, more.length, batch.data, grown.size));
    embeddedUpTo = grown.n;
  }
  // Synchronous from here to the index swap, so no image is stored in between.
  const all = store.view();
  index.truncate(view.n);
  index.replaceAll(vectors, mined);
  if (all.n > view.n) {
    index.addBatch(
      all.ids.slice(view.n),
      concatFloat32(later.vectors),
      all.n - view.n,
    );
  }
  const backbone = concatFloat32([embedded.backbone, ...later.backbone]);
  view = all;
  const dim = backbone.length / Math.max(view.n, 1);

  const scanLosses = {
    total: [] as number[],
    consistency: [] as number[],
    entropy: [] as number[],
  };
  const selflabelLosses: number[] = [];
  /** Image id -> pseudo-label in the head's own cluster ids. */
  const accepted = new Map<string, { cluster: number; confidence: number }>();
  const scanReady = view.n >= rounds.minImages && warm(rounds, steps.pretext, memory);
  if (scanReady) {
    const lists = index.lists();
    const k = lists.listLength;
    // The SCAN and self-labelling optimisers start their streams at the round they are made.
    const at = { position: steps.rounds, learningRateScale: ctx.learningRateScale };
    for (let s = 0; s < rounds.scanSteps; s++) {
      await ctx.betweenSteps();
      if (signal?.aborted) return null;
      const anchors = sample(view.n, config.scan.batchSize, rng);
      // As in the official NeighborsDataset: one of the K (the anchor itself included).
      const picked = anchors.map((i) => lists.indices[i * k + rng.int(k)]);
      let losses: ScanLosses;
      if (config.clusterHeadOnly) {
        // The backbone is frozen during SCAN steps: its features of this round serve as input.
        losses = await pool.scanOnFeatures(
          takeRows(backbone, dim, anchors),
          takeRows(backbone, dim, picked),
          dim,
          at,
        );
      } else {
        losses = await pool.scanOnImages(
          gatherBatch(view, anchors),
          gatherBatch(view, picked),
          at,
        );
      }
      const best = losses.total.indexOf(Math.min(...losses.total));
      scanLosses.total.push(losses.total[best]);
      scanLosses.consistency.push(losses.consistency[best]);
      scanLosses.entropy.push(losses.entropy[best]);
      steps.scan++;
    }
    if (signal?.aborted) return null;
    const logits = config.clusterHeadOnly
      ? await pool.headLogits(backbone, view.n)
      : await pool.logits(gatherBatch(view, range(view.n)));
    // The head with the lowest SCAN loss over the whole store (training images only).
    const headLosses = await pool.evaluateHeads({
      logits,
      n: view.n,
      clusters: config.clusters,
      neighbours: lists.indices,
      k,
      entropyWeight: config.entropyWeight,
    });
    head = headLosses.total.indexOf(Math.min(...headLosses.total));
    const scanRounds = Math.floor(steps.scan / Math.max(rounds.scanSteps, 1));
    const refresh = refreshedHead(rounds.headRefreshRounds, scanRounds, config.heads, head);
    if (refresh !== null) {
      const seed = new RandomStreams(config.seed).seedOf("round.heads.refresh", scanRounds);
      await pool.refreshHead(refresh, seed);
    }
    if (steps.scan >= rounds.selflabelAfter) {
      for (let s = 0; s < rounds.selflabelSteps; s++) {
        await ctx.betweenSteps();
        if (signal?.aborted) return null;
        const current = store.view();
        const batch = sample(current.n, config.selflabel.batchSize, rng);
        const fresh = head !== memory.selflabelHead;
        memory.selflabelHead = head;
        const { loss, confident, accepted: rows } = await pool.selflabel(
          gatherBatch(current, batch),
          { fresh, head, at },
        );
        if (confident > 0) selflabelLosses.push(loss);
        // The latest pseudo-label of an image wins.
        for (const r of rows) {
          accepted.set(current.ids[batch[r.row]], {
            cluster: r.cluster,
            confidence: r.confidence,
          });
        }
        steps.selflabel++;
      }
    }
  }
  // The round's networks, for serving; with a trained backbone, also the store's features
  // under them (the pool's pass, not this thread's).
  const weights = await pool.weights();
  let frozen: { features: Float32Array; n: number } | undefined;
  if (config.clusterHeadOnly) {
    // With a frozen backbone the round's features are still those of the new networks: the
    // heads alone classify the images embedded above, with no second backbone pass.
    frozen = { features: backbone, n: view.n };
  } else if (steps.scan > 0) {
    const after = store.view();
    const features = await pool.embed(gatherBatch(after, range(after.n)));
    frozen = { features: features.backbone, n: after.n };
  }
  await ctx.betweenSteps();
  if (signal?.aborted) return null;
  steps.rounds++;
  return {
    steps,
    head,
    weights,
    frozen,
    accepted,
    losses: {
      pretext: mean(pretextLosses),
      total: mean(scanLosses.total),
      consistency: mean(scanLosses.consistency),
      entropy: mean(scanLosses.entropy),
      selflabel: mean(selflabelLosses),
    },
  };
}

/**
 * The head to re-initialise after the `scanRounds`-th round with SCAN steps, or null: every
 * `every` such rounds, the heads other than `kept` in turn (none with a single head or
 * `every` = 0).
 */
export function refreshedHead(
  every: number,
  scanRounds: number,
  heads: number,
  kept: number,
): number | null {
  if (every <= 0 || heads < 2 || scanRounds <= 0 || scanRounds % every !== 0) return null;
  const turn = (scanRounds / every - 1) % (heads - 1);
  // The `turn`-th head counting from the one after the kept head, skipping the kept one.
  return (kept + 1 + turn) % heads;
}

function mean(values: number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** `min(count, n)` distinct indices in [0, n), in random order. */
function sample(n: number, count: number, rng: Random): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, Math.min(count, n));
}
