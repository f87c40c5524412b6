/**
 * The run configuration: every value shared by stages (neighbour count, entropy weight, number of
 * clusters, input size) is defined here once and passed explicitly. Parsed and validated once at
 * the edge into a frozen object; loading it has no side effects.
 */

/** Optimisation settings of one training stage. */
export interface StageConfig {
  /** Passes over the training images. */
  readonly epochs: number;
  /** Images per step (SimCLR: pairs per step). */
  readonly batchSize: number;
  /** Adam learning rate. */
  readonly learningRate: number;
}

/** The features neighbours are mined on (`ScanConfig.mineOn`). */
export type MineOn = "projection" | "backbone-pixels";
export const MINE_ON: readonly MineOn[] = ["projection", "backbone-pixels"];

/** Everything a run needs besides its data. */
export interface ScanConfig {
  /** Backbone preset name, a key of `BACKBONES` in src/models/resnet.ts. */
  readonly backbone: string;
  /** Model input side in pixels: images are resized to `inputSize` x `inputSize` x 3. */
  readonly inputSize: number;
  /** Number of clusters C. */
  readonly clusters: number;
  /** Clustering heads trained at once; the one with the lowest SCAN loss is kept. */
  readonly heads: number;
  /** K: neighbours mined per image, the image itself included (paper: 20). */
  readonly neighbours: number;
  /** Weight of the entropy term in the SCAN loss (paper configs: 5). */
  readonly entropyWeight: number;
  /** Self-labelling confidence threshold on the weak view (paper: 0.99). */
  readonly confidenceThreshold: number;
  /** NT-Xent temperature (paper: 0.1). */
  readonly temperature: number;
  /**
   * Area range of the random resized crop in every augmentation (paper: [0.2, 1]). Small synthetic
   * shapes need larger crops: a fifth of a disc is indistinguishable from a fifth of a ring.
   */
  readonly cropScale: readonly [number, number];
  /**
   * Probability of inverting an image in every augmentation (not in the paper: 0). For data where
   * a class comes in either polarity, as the fixtures' random foreground and background colours:
   * without it SimCLR keeps polarity, and SCAN splits rings and crosses by it (BENCHMARKS.md).
   */
  readonly invertProbability: number;
  /**
   * Colour augmentations (saturation, hue, random grayscale) in every view, as the paper. The
   * `auto` settings turn them off for grayscale data, where they change nothing but the cost.
   */
  readonly colourAugment: boolean;
  /**
   * SCAN updates the clustering heads only, on frozen backbone features computed once (the
   * official code's `update_cluster_head_only`): far cheaper per epoch on a CPU, so more epochs.
   */
  readonly clusterHeadOnly: boolean;
  /**
   * What neighbours are mined on: `projection`, the pretext features z (the paper, the official
   * code); or `backbone-pixels`, the backbone features h and the images' own mean-centred pixels,
   * each unit-normalised, so that similarity is the mean of the two cosines
   * (src/mining/pixel_mix.ts). On small gray images a short SimCLR run's features give
   * neighbours about as good as the pixels they start from, and the two together better than
   * either (BENCHMARKS.md, issue 12); the `auto` settings choose it for gray single-polarity data.
   */
  readonly mineOn: MineOn;
  readonly pretext: StageConfig;
  readonly scan: StageConfig;
  readonly selflabel: StageConfig;
  /** Seed of every random choice of the run. */
  readonly seed: number;
}

/** Named starting points; a run's flags override single fields. */
/**
 * Width of the pretext features: the projection head's output (SimCLR's and the paper's 128),
 * what NT-Xent compares, mining ranks and the stream's neighbour index holds.
 */
export const PROJECTION_DIM = 128;

export const PRESETS: Readonly<Record<string, ScanConfig>> = {
  /** Small and fast: the shapes fixtures in CI, 300 images at 24 px. */
  fixtures: {
    backbone: "resnet-tiny",
    inputSize: 24,
    clusters: 6,
    heads: 5,
    neighbours: 5,
    entropyWeight: 5,
    confidenceThreshold: 0.99,
    temperature: 0.1,
    cropScale: [0.5, 1],
    invertProbability: 0.5,
    colourAugment: true,
    clusterHeadOnly: true,
    mineOn: "projection",
    pretext: { epochs: 150, batchSize: 64, learningRate: 3e-3 },
    scan: { epochs: 200, batchSize: 64, learningRate: 1e-2 },
    selflabel: { epochs: 10, batchSize: 64, learningRate: 1e-4 },
    seed: 1,
  },
  /** Fashion-MNIST within an hour on 2 CPU cores (chosen by measuring; see BENCHMARKS.md). */
  "fashion-mnist": {
    backbone: "resnet-small",
    inputSize: 16,
    clusters: 10,
    heads: 5,
    neighbours: 20,
    entropyWeight: 5,
    confidenceThreshold: 0.99,
    temperature: 0.1,
    cropScale: [0.5, 1],
    invertProbability: 0,
    colourAugment: true,
    clusterHeadOnly: true,
    mineOn: "projection",
    pretext: { epochs: 4, batchSize: 256, learningRate: 2e-3 },
    scan: { epochs: 50, batchSize: 256, learningRate: 1e-2 },
    selflabel: { epochs: 2, batchSize: 256, learningRate: 1e-4 },
    seed: 1,
  },
  /** The paper's CIFAR-10 configuration (ResNet-18, 500 SimCLR epochs): for a GPU backend. */
  paper: {
    backbone: "resnet18",
    inputSize: 32,
    clusters: 10,
    heads: 10,
    neighbours: 20,
    entropyWeight: 5,
    confidenceThreshold: 0.99,
    temperature: 0.1,
    cropScale: [0.2, 1],
    invertProbability: 0,
    colourAugment: true,
    clusterHeadOnly: false,
    mineOn: "projection",
    pretext: { epochs: 500, batchSize: 512, learningRate: 1e-3 },
    scan: { epochs: 100, batchSize: 128, learningRate: 1e-4 },
    selflabel: { epochs: 200, batchSize: 1000, learningRate: 1e-4 },
    seed: 1,
  },
};

/** Fields a user may override from the command line. */
export type ConfigOverrides = Partial<
  Omit<ScanConfig, "pretext" | "scan" | "selflabel"> & {
    pretext: Partial<StageConfig>;
    scan: Partial<StageConfig>;
    selflabel: Partial<StageConfig>;
  }
>;

/**
 * Build a validated, frozen config from a preset and overrides.
 *
 * @throws {RangeError} for an unknown preset or an out-of-range value.
 */
export function makeConfig(preset = "fixtures", overrides: ConfigOverrides = {}): ScanConfig {
  const base = PRESETS[preset];
  if (!base) {
    throw new RangeError(
      `Cannot build config: preset must be one of ${Object.keys(PRESETS).join(", ")}, ` +
        `current value is ${preset}`,
    );
  }
  return makeConfigFrom(base, overrides);
}

/**
 * Build a validated, frozen config from a full `base` (e.g. the `auto` settings chosen from the
 * data) and overrides.
 *
 * @throws {RangeError} for an out-of-range value.
 */
export function makeConfigFrom(base: ScanConfig, overrides: ConfigOverrides = {}): ScanConfig {
  const config: ScanConfig = {
    ...base,
    ...overrides,
    pretext: { ...base.pretext, ...overrides.pretext },
    scan: { ...base.scan, ...overrides.scan },
    selflabel: { ...base.selflabel, ...overrides.selflabel },
  };
  validateConfig(config);
  return deepFreeze(config);
}

function validateConfig(config: ScanConfig): void {
  const positiveInts: [string, number][] = [
    ["inputSize", config.inputSize],
    ["heads", config.heads],
    ["neighbours", config.neighbours],
  ];
  for (const stage of ["pretext", "scan", "selflabel"] as const) {
    positiveInts.push([`${stage}.batchSize`, config[stage].batchSize]);
  }
  for (const [name, value] of positiveInts) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot build config: ${name} must be a positive integer, current value is ${value}`,
      );
    }
  }
  for (const stage of ["pretext", "scan", "selflabel"] as const) {
    const { epochs, learningRate } = config[stage];
    if (!Number.isInteger(epochs) || epochs < 0) {
      throw new RangeError(
        `Cannot build config: ${stage}.epochs must be a non-negative integer, current value is ${epochs}`,
      );
    }
    if (!(learningRate > 0)) {
      throw new RangeError(
        `Cannot build config: ${stage}.learningRate must be positive, current value is ${learningRate}`,
      );
    }
  }
  if (!Number.isInteger(config.clusters) || config.clusters < 2) {
    throw new RangeError(
      `Cannot build config: clusters must be an integer of at least 2, current value is ${config.clusters}`,
    );
  }
  if (!(config.confidenceThreshold > 0 && config.confidenceThreshold < 1)) {
    throw new RangeError(
      "Cannot build config: confidenceThreshold must be in (0, 1), " +
        `current value is ${config.confidenceThreshold}`,
    );
  }
  if (!(config.entropyWeight >= 0)) {
    throw new RangeError(
      `Cannot build config: entropyWeight must be non-negative, current value is ${config.entropyWeight}`,
    );
  }
  const [lo, hi] = config.cropScale;
  if (!(lo > 0 && lo <= hi && hi <= 1)) {
    throw new RangeError(
      `Cannot build config: cropScale must satisfy 0 < min <= max <= 1, current value is [${lo}, ${hi}]`,
    );
  }
  if (!(config.invertProbability >= 0 && config.invertProbability <= 1)) {
    throw new RangeError(
      "Cannot build config: invertProbability must be in [0, 1], " +
        `current value is ${config.invertProbability}`,
    );
  }
  if (typeof config.colourAugment !== "boolean") {
    throw new RangeError(
      `Cannot build config: colourAugment must be true or false, current value is ${config.colourAugment}`,
    );
  }
  if (!MINE_ON.includes(config.mineOn)) {
    throw new RangeError(
      `Cannot build config: mineOn must be one of ${MINE_ON.join(", ")}, ` +
        `current value is ${config.mineOn}`,
    );
  }
  if (!(config.temperature > 0)) {
    throw new RangeError(
      `Cannot build config: temperature must be positive, current value is ${config.temperature}`,
    );
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Brightness and contrast jitter of gray data: SimCLR's colour distortion at strength 1 (0.8 each;
 * the paper's CIFAR setting, and the weak view's default, is strength 0.5). On gray images these
 * two are all the colour distortion there is, and at 0.4 two crops of an image still share its
 * intensities, a shortcut the network learns instead of shapes: on a gray folder of 2,000 images
 * 0.8 raised the mined neighbours' accuracy from 0.672-0.676 (five variants at 0.4) to 0.709
 * (BENCHMARKS.md, issue 12).
 */
export const GRAY_JITTER = 0.8;

/** The augmentation settings a config fixes, for every stage's weak and strong views. */
export function augmentationOf(config: ScanConfig): {
  cropScale: readonly [number, number];
  invertProbability: number;
  saturation?: number;
  hue?: number;
  grayscaleProbability?: number;
  brightness?: number;
  contrast?: number;
} {
  const fixed = { cropScale: config.cropScale, invertProbability: config.invertProbability };
  // Without colour augmentation the weak view keeps brightness and contrast jitter only, stronger.
  return config.colourAugment === false
    ? {
      ...fixed,
      saturation: 0,
      hue: 0,
      grayscaleProbability: 0,
      brightness: GRAY_JITTER,
      contrast: GRAY_JITTER,
    }
    : fixed;
}
