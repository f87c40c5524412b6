/**
 * Checkpoints on the local file system: a tfjs `IOHandler` that writes the standard
 * `<name>.json` (topology + weights manifest) and `<name>.weights.bin` pair, so a crash never
 * leaves a half-written checkpoint behind.
 *
 * Each file is written under a temporary name, flushed to disk, then renamed into place; the
 * weights go first and the JSON last, so a present JSON means a complete checkpoint. The JSON
 * also records the SHA-256 of its weights: a crash between the two renames (new weights beside
 * the previous JSON) is reported on load instead of loading mismatched weights.
 */
import { concatBytes } from "../util/concat.ts";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { join } from "node:path";
import { registerL2Normalize } from "./l2_normalize.ts";

/** `model.json` plus the checksum this module adds; tfjs ignores the extra field. */
type CheckpointJSON = tf.io.ModelJSON & { weightsSha256?: string };

/**
 * A handler saving to and loading from `<dir>/<name>.json` and `<dir>/<name>.weights.bin`.
 * Saving creates `dir` when missing and replaces an existing checkpoint of the same name.
 *
 * @throws {TypeError} when `name` is empty or contains a path separator.
 */
export function fileIOHandler(dir: string, name: string): tf.io.IOHandler {
  if (name === "" || name === "." || name === ".." || /[\/\\]/.test(name)) {
    throw new TypeError(
      `Cannot create checkpoint handler: name must be a plain file name, current value is "${name}"`,
    );
  }
  const jsonPath = join(dir, `${name}.json`);
  const weightsFile = `${name}.weights.bin`;

  async function save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      throw new TypeError(
        `Cannot save checkpoint ${jsonPath}: only JSON model topologies (LayersModel) are supported`,
      );
    }
    const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []));
    const modelJSON: CheckpointJSON = {
      modelTopology: artifacts.modelTopology ?? {},
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs ?? [] }],
      weightsSha256: await sha256(weights),
    };
    if (artifacts.trainingConfig != null) modelJSON.trainingConfig = artifacts.trainingConfig;
    if (artifacts.userDefinedMetadata != null) {
      modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
    }
    if (artifacts.signature != null) modelJSON.signature = artifacts.signature;

    await Deno.mkdir(dir, { recursive: true });
    const suffix = `.tmp-${crypto.randomUUID().slice(0, 8)}`;
    const weightsPath = join(dir, weightsFile);
    const weightsTemp = weightsPath + suffix;
    const jsonTemp = jsonPath + suffix;
    try {
      await writeSynced(weightsTemp, weights);
      await writeSynced(jsonTemp, new TextEncoder().encode(JSON.stringify(modelJSON)));
      await Deno.rename(weightsTemp, weightsPath);
      await Deno.rename(jsonTemp, jsonPath);
    } catch (error) {
      await Promise.all([weightsTemp, jsonTemp].map((path) => Deno.remove(path).catch(() => {})));
      throw new Error(`Cannot save checkpoint ${jsonPath}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }

  async function load(): Promise<tf.io.ModelArtifacts> {
    let modelJSON: CheckpointJSON;
    try {
      modelJSON = JSON.parse(await Deno.readTextFile(jsonPath));
    } catch (error) {
      throw new Error(`Cannot load checkpoint ${jsonPath}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (modelJSON.modelTopology == null || !Array.isArray(modelJSON.weightsManifest)) {
      throw new Error(
        `Cannot load checkpoint ${jsonPath}: it lacks modelTopology or weightsManifest`,
      );
    }
    return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
      const specs = manifest.flatMap((group) => group.weights);
      const parts = await Promise.all(
        manifest.flatMap((group) => group.paths).map((path) => Deno.readFile(join(dir, path))),
      );
      const weights = concatBytes(parts);
      if (
        modelJSON.weightsSha256 !== undefined &&
        modelJSON.weightsSha256 !== await sha256(weights)
      ) {
        throw new Error(
          `Cannot load checkpoint ${jsonPath}: its weights file does not match the checksum ` +
            "in the JSON (a save was interrupted between its two renames)",
        );
      }
      return [specs, weights.buffer as ArrayBuffer];
    });
  }

  return { save, load };
}

/** Save `model` as `<dir>/<name>.json` + `<dir>/<name>.weights.bin` (see {@link fileIOHandler}). */
export function saveModel(
  model: tfl.LayersModel,
  dir: string,
  name: string,
): Promise<tf.io.SaveResult> {
  return model.save(fileIOHandler(dir, name));
}

/** Load a model saved by {@link saveModel}, custom layers of this project included. */
export function loadModel(dir: string, name: string): Promise<tfl.LayersModel> {
  registerL2Normalize();
  return tfl.loadLayersModel(fileIOHandler(dir, name));
}

async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    // Without the flush, a power cut after the rename could leave the new name on empty data.
    await file.syncData();
  } finally {
    file.close();
  }
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
