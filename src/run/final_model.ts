/**
 * Which model a run serves once self-labelling has trained: the SCAN model or the self-labelled
 * one, chosen without labels by how well each keeps the mined neighbourhoods on the training
 * images (the fraction of image-neighbour pairs in one cluster).
 *
 * Why this rule (BENCHMARKS.md, "Self-labelling against SCAN"): on the folders and on
 * Fashion-MNIST measured here self-labelling lost to SCAN more often than it gained (7 of 10
 * runs, up to 0.043 on Fashion-MNIST), and every loss came with a drop in neighbour agreement,
 * since the strong view it trains on can pull images away from neighbours that SCAN had joined.
 * Self-labelling is kept only when it keeps the neighbourhoods at least as well as SCAN did. The
 * rule leans towards SCAN, whose loss rewards this very agreement: where self-labelling corrects
 * wrong neighbours (its purpose in the paper) the rule can refuse a gain, measured at up to
 * 0.018 here, against losses of up to 0.043 it avoids.
 */
import type { FinalChoice } from "./run_dir.ts";

/**
 * The final model from each model's neighbour agreement; null when an agreement is not a number
 * (no neighbour list holds another image), and the run keeps its default.
 */
export function chooseFinalModel(scan: number, selflabel: number): FinalChoice | null {
  if (Number.isNaN(scan) || Number.isNaN(selflabel)) return null;
  return { stage: selflabel >= scan ? "selflabel" : "scan", agreement: { scan, selflabel } };
}
