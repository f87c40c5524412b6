/**
 * The `auto` preset: a run's settings chosen from its data (`DataProfile`), each with the reason
 * it was chosen, so that a folder gets settings sized to it rather than to the fixtures. Pure:
 * the same profile gives the same settings. The rules, and what they give for typical folders,
 * are in docs/training.md.
 */
import type { ScanConfig } from "../config.ts";
import type { DataProfile } from "../data/profile.ts";
import { median } from "../util/median.ts";

/** Settings and why: one reason per chosen field, in the order they are printed. */
export interface AutoSettings {
  readonly config: ScanConfig;
  readonly reasons: Readonly<Record<string, string>>;
}

/** Clusters when none are asked for: the usual benchmark's ten classes. */
export const DEFAULT_CLUSTERS = 10;
/** Smallest input side: the backbone's three stride-2 stages leave 2x2 at 16 px. */
export const MIN_SIDE = 16;
/** Largest input side: the paper's CIFAR size; the cost of a step grows with the side squared. */
export const MAX_SIDE = 32;
/** Most upscaling of the images' native side. */
export const MAX_UPSCALE = 2;
/** Pixels per epoch (images x side^2) above which the side shrinks, so epochs stay affordable. */
export const PIXELS_PER_EPOCH = 4_000_000;
/** Fraction of colour pixels (over the sample) above which the data counts as colour. */
export const COLOUR_FRACTION = 0.02;
/** Fraction of images with a dark and with a light border above which both polarities occur. */
export const POLARITY_FRACTION = 0.2;

/** The largest power of two at most `x`, within [lo, hi]. */
function powerOfTwoWithin(x: number, lo: number, hi: number): number {
  const p = 2 ** Math.floor(Math.log2(Math.max(1, x)));
  return Math.min(hi, Math.max(lo, p));
}

/**
 * Choose the settings for `profile`, clustering into `clusters` (default `DEFAULT_CLUSTERS`).
 *
 * @throws {RangeError} when no sampled image decoded, or there are too few images to cluster.
 */
export function autoSettings(profile: DataProfile, clusters?: number): AutoSettings {
  const { images, sample } = profile;
  if (sample.length === 0) {
    throw new RangeError(
      `Cannot choose settings from the data: none of the sampled images decoded (of ${images} images)`,
    );
  }
  const reasons: Record<string, string> = {};
  const c = clusters ?? DEFAULT_CLUSTERS;
  reasons.clusters = clusters === undefined
    ? `${c}: not given (pass --clusters)`
    : `${c}: as asked`;

  // Input side: the images' native short side, upscaled at most 2x, within [16, 32] and within
  // a pixel budget per epoch.
  const native = median(sample.map((s) => Math.min(s.width, s.height)));
  const nativeText = `median native short side ${native} px`;
  const budgetSide = Math.max(MIN_SIDE, Math.floor(Math.sqrt(PIXELS_PER_EPOCH / images)));
  let inputSize: number;
  if (native < MIN_SIDE) {
    inputSize = Math.max(8, Math.min(MIN_SIDE, Math.round(native * MAX_UPSCALE)));
    reasons.inputSize = `${inputSize}: ${nativeText}, upscaled at most ${MAX_UPSCALE}x towards ` +
      `${MIN_SIDE} (the backbone's three downsamplings leave too little below it)`;
  } else {
    inputSize = Math.min(Math.round(native), MAX_SIDE, budgetSide);
    const why = inputSize === Math.round(native)
      ? "kept"
      : inputSize === MAX_SIDE && MAX_SIDE <= budgetSide
      ? `downscaled to ${MAX_SIDE} (the paper's CIFAR size; a step's cost grows with the side squared)`
      : `downscaled so that ${images} images x side^2 stay within ${
        PIXELS_PER_EPOCH / 1e6
      }M pixels an epoch`;
    reasons.inputSize = `${inputSize}: ${nativeText}, ${why}`;
  }

  // Colour: the weak view's saturation, hue and random grayscale only where there is colour.
  const colourFraction = sample.reduce((sum, s) => sum + s.colourFraction, 0) / sample.length;
  const colourAugment = colourFraction > COLOUR_FRACTION;
  reasons.colourAugment = `${colourAugment}: ${(100 * colourFraction).toFixed(1)}% of sampled ` +
    `pixels have colour (${colourAugment ? "above" : "at most"} ${100 * COLOUR_FRACTION}%)` +
    (colourAugment ? "" : "; saturation, hue and grayscale would change nothing");

  // Inversion: only where both polarities of background occur (as the fixtures' random colours).
  const dark = sample.filter((s) => s.borderLuminance < 0.35).length / sample.length;
  const light = sample.filter((s) => s.borderLuminance > 0.65).length / sample.length;
  const bothPolarities = dark >= POLARITY_FRACTION && light >= POLARITY_FRACTION;
  const invertProbability = bothPolarities ? 0.5 : 0;
  reasons.invertProbability = `${invertProbability}: ${(100 * dark).toFixed(0)}% of sampled ` +
    `images have a dark border, ${(100 * light).toFixed(0)}% a light one` +
    (bothPolarities
      ? ` (both at least ${100 * POLARITY_FRACTION}%: polarity is not a class property here)`
      : ` (inverted only when both are at least ${100 * POLARITY_FRACTION}%)`);

  // Mining: on gray images of one polarity the pixels are a fair similarity of their own, and
  // a short SimCLR run's features are about as good: mine on both (src/mining/pixel_mix.ts).
  const mineOn = !colourAugment && !bothPolarities ? "backbone-pixels" : "projection";
  reasons.mineOn = mineOn === "backbone-pixels"
    ? "backbone-pixels: gray images of one polarity, where the pixels are a fair similarity and " +
      "together with the backbone features give better neighbours than either (BENCHMARKS.md)"
    : `projection (the paper's): ${
      colourAugment
        ? "colour images, whose pixels compare the colour that SimCLR learns to ignore"
        : "both polarities occur, and pixels would pair images by polarity"
    }`;

  // Crop: a fifth of a CIFAR image still shows an object; a fifth of an 8 px image is 3 px.
  const cropSide = Math.min(native, inputSize);
  const cropScale: [number, number] = cropSide <= 16
    ? [0.5, 1]
    : cropSide <= 32
    ? [0.35, 1]
    : [0.2, 1];
  reasons.cropScale = `[${cropScale.join(", ")}]: crops of images ${
    cropSide <= 16 ? "at most 16" : cropSide <= 32 ? "at most 32" : "over 32"
  } px wide (the paper's 0.2 for CIFAR's 32 px and larger; more of smaller images)`;

  // K: a small part of a cluster, as the paper's 20 of CIFAR-10's 5,000 images a class.
  const perCluster = images / c;
  const neighbours = Math.max(5, Math.min(20, Math.round(perCluster / 20), images - 1));
  reasons.neighbours = `${neighbours}: about a twentieth of the ${Math.round(perCluster)} ` +
    `images a cluster, within [5, 20] (the paper: 20)`;

  // Batches: about an eighth of the images, a power of two in [32, 256] (SimCLR wants large
  // batches, 2 CPU cores want small steps), and room for every cluster in SCAN's entropy term.
  const pretextBatch = Math.min(images, powerOfTwoWithin(images / 8, 32, 256));
  const scanBatch = Math.min(images, Math.max(powerOfTwoWithin(images / 8, 64, 256), 8 * c));
  reasons.batchSize = `pretext ${pretextBatch}, SCAN and self-labelling ${scanBatch}: about an ` +
    `eighth of ${images} images as a power of two, pretext in [32, 256], SCAN in [64, 256] and ` +
    `at least 8 a cluster`;

  // Epochs: placeholders that the time budget replaces (docs/training.md).
  const pretextEpochs = Math.max(4, Math.min(100, Math.round(200_000 / images)));
  reasons.epochs = `pretext ${pretextEpochs}, SCAN 50, self-labelling 2 unless the budget plans ` +
    `them (about 200,000 pretext images in all, within [4, 100] epochs)`;

  const config: ScanConfig = {
    backbone: "resnet-small",
    inputSize,
    clusters: c,
    heads: 5,
    neighbours,
    entropyWeight: 5,
    confidenceThreshold: 0.99,
    temperature: 0.1,
    cropScale,
    invertProbability,
    colourAugment,
    clusterHeadOnly: true,
    mineOn,
    pretext: { epochs: pretextEpochs, batchSize: pretextBatch, learningRate: 2e-3 },
    scan: { epochs: 50, batchSize: scanBatch, learningRate: 1e-2 },
    selflabel: { epochs: 2, batchSize: scanBatch, learningRate: 1e-4 },
    seed: 1,
  };
  reasons.backbone = "resnet-small: the backbone measured on real images (fashion-mnist preset)";
  return { config, reasons };
}
