/**
 * Mining vectors from learned features and the images' own pixels together (`mineOn:
 * "backbone-pixels"`, src/config.ts). Each image's features are unit-normalised, its gray pixels
 * have their mean taken out and are unit-normalised too, and the two are laid side by side: the
 * cosine similarity of two such vectors is the mean of the features' cosine and the pixels'
 * (centred: a correlation), so neither part outweighs the other whatever their widths.
 *
 * Why (BENCHMARKS.md, issue 12): on folders of small gray images the pretext features after a
 * short SimCLR run give neighbours about as good as the pixels, and the two make different
 * mistakes: on five folders made from Fashion-MNIST's test split (8 to 28 px) the neighbours of
 * the two together were 0.016 to 0.030 more accurate than those of the best of z, h and the
 * pixels alone.
 */

/** Width of a mining vector: the features' plus one per pixel of a `size` x `size` image. */
export function mixedDim(featureDim: number, size: number): number {
  return featureDim + size * size;
}

/**
 * `[unit(features_i), unit(gray_i - mean(gray_i))]` for each of `n` images.
 *
 * @param features `n x dim` row-major features (any scale; a zero row stays zero).
 * @param pixels uint8 RGB `[n, size, size, 3]`; gray is the mean of the three channels.
 * @returns `n x mixedDim(dim, size)` row-major vectors; a constant image's pixel part is zero.
 * @throws {RangeError} when the sizes do not fit.
 */
export function withPixels(
  features: Float32Array,
  n: number,
  dim: number,
  pixels: Uint8Array,
  size: number,
): Float32Array {
  const area = size * size;
  if (features.length !== n * dim || pixels.length !== n * area * 3) {
    throw new RangeError(
      `Cannot mix pixels into features: expected ${n} x ${dim} features and ${n} images of ` +
        `${size} x ${size} x 3, current lengths are ${features.length} and ${pixels.length}`,
    );
  }
  const width = dim + area;
  const out = new Float32Array(n * width);
  const gray = new Float32Array(area);
  for (let i = 0; i < n; i++) {
    const row = i * width;
    let squares = 0;
    for (let j = 0; j < dim; j++) squares += features[i * dim + j] ** 2;
    const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    for (let j = 0; j < dim; j++) out[row + j] = features[i * dim + j] * scale;

    let mean = 0;
    for (let p = 0; p < area; p++) {
      const at = (i * area + p) * 3;
      gray[p] = (pixels[at] + pixels[at + 1] + pixels[at + 2]) / 3;
      mean += gray[p];
    }
    mean /= area;
    let spread = 0;
    for (let p = 0; p < area; p++) {
      gray[p] -= mean;
      spread += gray[p] ** 2;
    }
    const unit = spread > 0 ? 1 / Math.sqrt(spread) : 0;
    for (let p = 0; p < area; p++) out[row + dim + p] = gray[p] * unit;
  }
  return out;
}
