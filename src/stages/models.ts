/**
 * The two networks of a SCAN run and how a forward pass goes through them: the contrastive model
 * (backbone f + projection head g) of the pretext stage, and the clustering model (the same
 * backbone + clustering heads h) of the SCAN and self-labelling stages.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";

/** Backbone f and projection head g (SimCLR). */
export interface ContrastiveModel {
  readonly backbone: tfl.LayersModel;
  readonly projection: tfl.LayersModel;
}

/** Backbone f and clustering heads h (one output of logits [B, C] per head). */
export interface ClusteringModel {
  readonly backbone: tfl.LayersModel;
  readonly heads: tfl.LayersModel;
}

/** L2-normalised pretext features [B, D]. */
export function projectFeatures(
  model: ContrastiveModel,
  images: tf.Tensor4D,
  training = false,
): tf.Tensor2D {
  const features = model.backbone.apply(images, { training }) as tf.Tensor2D;
  return model.projection.apply(features, { training }) as tf.Tensor2D;
}

/** Logits [B, C] of every head. */
export function headLogits(
  model: ClusteringModel,
  images: tf.Tensor4D,
  training = false,
): tf.Tensor2D[] {
  const features = model.backbone.apply(images, { training }) as tf.Tensor2D;
  const out = model.heads.apply(features, { training }) as tf.Tensor2D | tf.Tensor2D[];
  return Array.isArray(out) ? out : [out];
}

/** The variables an optimizer updates: every trainable weight of the given models. */
export function trainableVariables(...models: tfl.LayersModel[]): tf.Variable[] {
  return models.flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
}
