/**
 * Named random streams of a run. Every consumer (a stage's augmentations, an epoch's batch order,
 * a network's initial weights, k-means) draws from its own generator, named here and derived from
 * the run seed and a position (the epoch or round it starts at), so a draw added in one consumer
 * never shifts the numbers of another, and a resumed run draws what an uninterrupted one would.
 *
 * The derivations are the ones the offline run and the stream spelled inline before the streams
 * had names (seed x a prime + position + offset), kept exactly so that seeded results (the
 * accuracies in BENCHMARKS.md and the tests) are unchanged.
 */
import { Random } from "./random.ts";

interface Derivation {
  readonly multiplier: number;
  readonly offset: number;
}

const DERIVATIONS = {
  // Initial weights of the networks (the position is unused: 0).
  "backbone.init": { multiplier: 1, offset: 0 },
  "projection.init": { multiplier: 1, offset: 1 },
  "heads.init": { multiplier: 1, offset: 2 },
  // The paper's k-means baseline on the pretext features.
  "kmeans": { multiplier: 1, offset: 0 },
  // The raw-pixel k-means baseline (and its sample of training images).
  "baseline.kmeans": { multiplier: 1, offset: 4 },
  // Offline run: a trainer's augmentations from the epoch it starts at, and each epoch's batches.
  "pretext.augment": { multiplier: 7919, offset: 0 },
  "pretext.batches": { multiplier: 104729, offset: 0 },
  "scan.augment": { multiplier: 15485863, offset: 0 },
  // The SCAN epoch's batch order and its neighbour draws share one generator.
  "scan.batches": { multiplier: 32452843, offset: 0 },
  "selflabel.augment": { multiplier: 49979687, offset: 0 },
  "selflabel.batches": { multiplier: 86028121, offset: 0 },
  // Stream: trainers built when the trainer opens (at its round count), and each round's samples.
  "round.pretext.augment": { multiplier: 7919, offset: 1 },
  "round.scan.augment": { multiplier: 7919, offset: 2 },
  "round.selflabel.augment": { multiplier: 49979687, offset: 0 },
  "round.batches": { multiplier: 104729, offset: 0 },
  // Fresh weights of a re-initialised head, at the count of rounds with SCAN steps.
  "round.heads.refresh": { multiplier: 179424673, offset: 0 },
} as const satisfies Record<string, Derivation>;

/** The name of one random stream of a run. */
export type RandomStreamName = keyof typeof DERIVATIONS;

/** Every stream name, for tests and listings. */
export const RANDOM_STREAM_NAMES = Object.keys(DERIVATIONS) as RandomStreamName[];

/** The random streams of one run, all derived from its seed. */
export class RandomStreams {
  readonly seed: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new TypeError(
        `Cannot derive random streams: the seed must be a finite number, current value is ${seed}`,
      );
    }
    this.seed = seed;
  }

  /** The seed of stream `name` at `position` (for builders that take a number). */
  seedOf(name: RandomStreamName, position = 0): number {
    if (!Number.isInteger(position) || position < 0) {
      throw new RangeError(
        `Cannot derive random stream ${name}: the position must be a non-negative integer, ` +
          `current value is ${position}`,
      );
    }
    const { multiplier, offset } = DERIVATIONS[name];
    // Evaluated in the order the inline derivations were, so the float results match bit for bit.
    return this.seed * multiplier + position + offset;
  }

  /** A fresh generator of stream `name` at `position`: the same name and position, the same numbers. */
  random(name: RandomStreamName, position = 0): Random {
    return new Random(this.seedOf(name, position));
  }
}
