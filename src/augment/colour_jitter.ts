/**
 * Colour jitter as torchvision's `RandomApply([ColorJitter(b, c, s, h)], p)`: each image gets,
 * with probability p, its own brightness, contrast, saturation and hue factors applied in its own
 * random order, with a clip to [0, 1] after each step as torchvision does.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Random } from "../util/random.ts";
import { checkImages } from "./check_images.ts";
import {
  applyColourTransforms,
  hueMatrix,
  IDENTITY_MATRIX,
  saturationMatrix,
  scaleMatrix,
} from "./colour_matrix.ts";

/** Parameters of `colourJitter`; factors are drawn from [1 - x, 1 + x], hue from [-h, h]. */
export interface ColourJitterOptions {
  jitterProbability: number;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/** One image's draw: the order of the four steps (0 brightness, 1 contrast, 2 saturation, 3 hue). */
interface JitterDraw {
  order: number[];
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/**
 * Jitter each image's colours.
 *
 * Every image applies its k-th step in the same pass: the four steps are each a per-image colour
 * transform (`colour_matrix.ts`), so a step is one batched product whatever mix of brightness,
 * contrast, saturation and hue the images are at, and images left alone get the identity.
 *
 * @param images [B, H, W, 3] float32 in [0, 1]; not disposed.
 * @returns [B, H, W, 3] in [0, 1].
 */
export function colourJitter(
  images: tf.Tensor4D,
  rng: Random,
  options: ColourJitterOptions,
): tf.Tensor4D {
  checkImages(images, "jitter colours");
  const batch = images.shape[0];
  const draws: (JitterDraw | null)[] = [];
  for (let i = 0; i < batch; i++) {
    draws.push(rng.next() < options.jitterProbability ? drawJitter(rng, options) : null);
  }
  return tf.tidy(() => {
    if (draws.every((draw) => draw === null)) return tf.clone(images);
    let out = images;
    for (let step = 0; step < 4; step++) {
      const matrices = new Float32Array(batch * 9);
      const meanWeights = new Float32Array(batch);
      for (let i = 0; i < batch; i++) {
        const draw = draws[i];
        let m: readonly number[] = IDENTITY_MATRIX;
        if (draw !== null) {
          switch (draw.order[step]) {
            case 0:
              m = scaleMatrix(draw.brightness);
              break;
            case 1:
              m = scaleMatrix(draw.contrast);
              meanWeights[i] = 1 - draw.contrast;
              break;
            case 2:
              m = saturationMatrix(draw.saturation);
              break;
            default:
              m = hueMatrix(draw.hue);
          }
        }
        matrices.set(m, i * 9);
      }
      const anyContrast = meanWeights.some((w) => w !== 0);
      out = applyColourTransforms(out, matrices, anyContrast ? meanWeights : null);
    }
    return out;
  });
}

function drawJitter(rng: Random, options: ColourJitterOptions): JitterDraw {
  const order = rng.shuffle([0, 1, 2, 3]);
  return {
    order,
    brightness: rng.uniform(1 - options.brightness, 1 + options.brightness),
    contrast: rng.uniform(1 - options.contrast, 1 + options.contrast),
    saturation: rng.uniform(1 - options.saturation, 1 + options.saturation),
    hue: rng.uniform(-options.hue, options.hue),
  };
}
