/**
 * How much work one background training round of the stream does. Rounds are bounded by steps
 * (sampled batches), not epochs, so a round costs the same however large the store grows; the
 * batch sizes and learning rates come from the run's `ScanConfig` stages.
 */
import type { ScanConfig } from "../config.ts";

/** The size and schedule of the stream's training rounds. */
export interface RoundConfig {
  /** SimCLR steps per round. */
  readonly pretextSteps: number;
  /** SCAN steps per round, once clustering has started (head-only steps with `clusterHeadOnly`). */
  readonly scanSteps: number;
  /**
   * Self-labelling steps per round, once it has started; with `clusterHeadOnly` they train the
   * kept head only, since the backbone belongs to the pretext task.
   */
  readonly selflabelSteps: number;
  /** Pretext steps the backbone needs in total before SCAN starts (features worth mining). */
  readonly warmupSteps: number;
  /**
   * Or seconds of pretext training in this run, whichever comes first: a step's cost differs by
   * two orders of magnitude between backbones and machines, and a first clustering after a
   * fixed number of steps could take minutes (later rounds keep training and re-clustering).
   */
  readonly warmupSeconds: number;
  /**
   * How much more probable the new model must find another cluster than an image's published
   * one before the image moves (hysteresis): near-ties otherwise flip back and forth between
   * updates while nothing arrives. 0 moves on any change of the argmax.
   */
  readonly moveMargin: number;
  /**
   * With no new image since the last update, an update moving fewer than this fraction of the
   * store is not worth telling: it is dropped (its moves undone), not published.
   */
  readonly minMovedFraction: number;
  /**
   * Half-life, in seconds without a new image, of the learning rates (0: never cool). With
   * nothing new to learn, rates that stay high keep moving the backbone and the heads, and the
   * published clusters churn; cooling lets them converge, and any new image restores the rates.
   * In seconds, not rounds: a round's length varies a hundredfold with the store and the machine.
   */
  readonly coolingSeconds: number;
  /** Images the store needs before SCAN starts: a few per cluster and more than K. */
  readonly minImages: number;
  /** SCAN steps in total before self-labelling starts (the heads must be confident first). */
  readonly selflabelAfter: number;
  /**
   * Every this many rounds with SCAN steps, one head other than the kept one gets fresh weights,
   * in turn (0: never). The heads start on the features of a barely trained backbone; one that
   * settled there on a wrong split never leaves it, and with every head settled the kept one can
   * stay wrong for good. A restarted head learns on the current features and takes over once
   * its SCAN loss is the lowest.
   */
  readonly headRefreshRounds: number;
  /** Image ids per cluster shown in a cluster update. */
  readonly exemplars: number;
  /**
   * Rounds in a row that changed nothing (no image moved, none arrived) after which the trainer
   * waits for new images instead of spinning.
   */
  readonly patience: number;
}

/**
 * The round config for `config`, with overrides. Defaults were measured on the shapes fixtures
 * (300 images, 6 classes) on 2 CPU cores. The default minimum store is
 * `max(5 * clusters, K + 1)`: fewer images than that cannot fill the neighbour lists nor give
 * the entropy term of SCAN a fair estimate of the cluster marginal.
 *
 * @throws {RangeError} when a value is not a non-negative integer (a positive one for
 *   `minImages` and `patience`), or `minImages` is not above K.
 */
/** The fields that are not counts, and their largest value. */
const FRACTIONAL = {
  warmupSeconds: Infinity,
  moveMargin: 1,
  minMovedFraction: 1,
  coolingSeconds: Infinity,
} as const;

export function makeRoundConfig(
  config: ScanConfig,
  overrides: Partial<RoundConfig> = {},
): RoundConfig {
  const rounds: RoundConfig = {
    pretextSteps: 10,
    // A head-only step on frozen features costs a few small matrix products, not a backbone pass.
    scanSteps: config.clusterHeadOnly ? 40 : 8,
    selflabelSteps: 4,
    warmupSteps: 100,
    warmupSeconds: 10,
    moveMargin: 0.1,
    minMovedFraction: 0.01,
    coolingSeconds: 180,
    minImages: Math.max(5 * config.clusters, config.neighbours + 1),
    selflabelAfter: 240,
    headRefreshRounds: 3,
    exemplars: 5,
    patience: 5,
    ...overrides,
  };
  for (const [name, value] of Object.entries(rounds)) {
    if (name in FRACTIONAL) {
      const most = FRACTIONAL[name as keyof typeof FRACTIONAL];
      if (!(typeof value === "number" && value >= 0 && value <= most)) {
        throw new RangeError(
          `Cannot build round config: ${name} must be a number from 0 to ${most}, ` +
            `current value is ${value}`,
        );
      }
      continue;
    }
    const least = name === "minImages" || name === "patience" ? 1 : 0;
    if (!Number.isInteger(value) || value < least) {
      throw new RangeError(
        `Cannot build round config: ${name} must be an integer of at least ${least}, ` +
          `current value is ${value}`,
      );
    }
  }
  if (rounds.minImages <= config.neighbours) {
    throw new RangeError(
      `Cannot build round config: minImages must exceed the neighbour count K = ` +
        `${config.neighbours}, current value is ${rounds.minImages}`,
    );
  }
  return Object.freeze(rounds);
}

/** The coolest a rate gets: ten halvings, in effect stopped, and still a valid (positive) rate. */
export const MIN_COOLING_SCALE = 1 / 1024;

/**
 * The learning-rate scale of a round that starts `idleSeconds` after the last new image was
 * seen: halved every `coolingSeconds`, never below `MIN_COOLING_SCALE`; 1 with `coolingSeconds` 0.
 */
export function coolingScale(idleSeconds: number, coolingSeconds: number): number {
  if (!(coolingSeconds > 0)) return 1;
  return Math.max(MIN_COOLING_SCALE, 0.5 ** (Math.max(0, idleSeconds) / coolingSeconds));
}
