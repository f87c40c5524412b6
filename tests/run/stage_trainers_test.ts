import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { augmentationOf } from "../../src/config.ts";
import { StageTrainers } from "../../src/run/stage_trainers.ts";
import { PretextTrainer } from "../../src/stages/pretext.ts";
import { ScanTrainer } from "../../src/stages/scan.ts";
import { SelfLabelTrainer } from "../../src/stages/selflabel.ts";
import { RandomStreams } from "../../src/util/random_streams.ts";
import {
  disposeModel,
  randomImages,
  tinyClustering,
  tinyConfig,
  tinyContrastive,
} from "../_tiny_models.ts";

await initBackend("wasm");

const config = tinyConfig({ seed: 3 });
const streams = new RandomStreams(config.seed);

/** The loss of one step of `make`'s trainer on a fresh seeded model: equal losses, equal draws. */
function pretextLoss(make: (model: ReturnType<typeof tinyContrastive>) => PretextTrainer): number {
  const model = tinyContrastive(1);
  const trainer = make(model);
  const images = randomImages(4, 1);
  const loss = trainer.step(images);
  images.dispose();
  trainer.dispose();
  disposeModel(model);
  return loss;
}

Deno.test("StageTrainers.pretext - the config's options and the named stream at the given position", () => {
  const trainers = new StageTrainers(config);
  const options = {
    learningRate: config.pretext.learningRate,
    temperature: config.temperature,
    augmentation: augmentationOf(config),
  };
  const byHand = (stream: "pretext.augment" | "round.pretext.augment", position: number) =>
    pretextLoss((m) => new PretextTrainer(m, options, streams.random(stream, position)));
  assert.equal(
    pretextLoss((m) => trainers.pretext(m, { position: 4 })),
    byHand("pretext.augment", 4),
  );
  assert.equal(
    pretextLoss((m) => trainers.pretext(m, { stream: "round.pretext.augment", position: 2 })),
    byHand("round.pretext.augment", 2),
  );
  assert.notEqual(
    pretextLoss((m) => trainers.pretext(m, { position: 5 })),
    byHand("pretext.augment", 4),
  );
});

Deno.test("StageTrainers.scan and .selflabel - the same draws as trainers built by hand", () => {
  const trainers = new StageTrainers(config);
  const scanLoss = (make: (model: ReturnType<typeof tinyClustering>) => ScanTrainer) => {
    const model = tinyClustering(1);
    const trainer = make(model);
    const [a, n] = [randomImages(4, 1), randomImages(4, 2)];
    const losses = trainer.step(a, n);
    tf.dispose([a, n]);
    trainer.dispose();
    disposeModel(model);
    return losses;
  };
  assert.deepEqual(
    scanLoss((m) => trainers.scan(m, { position: 2 })),
    scanLoss((m) =>
      new ScanTrainer(m, {
        learningRate: config.scan.learningRate,
        entropyWeight: config.entropyWeight,
        augment: true,
        augmentation: augmentationOf(config),
      }, streams.random("scan.augment", 2))
    ),
  );
  const selflabel = (make: (model: ReturnType<typeof tinyClustering>) => SelfLabelTrainer) => {
    const model = tinyClustering(1);
    const trainer = make(model);
    const images = randomImages(8, 1);
    const result = trainer.step(images);
    images.dispose();
    trainer.dispose();
    disposeModel(model);
    return result;
  };
  // A threshold that initial predictions over 3 clusters pass for some images.
  const low = new StageTrainers({ ...config, confidenceThreshold: 0.34 });
  const built = selflabel((m) => low.selflabel(m, 1, { position: 3, headOnly: true }));
  assert.ok(built.confident > 0, "no image passed the threshold: the comparison would be empty");
  assert.deepEqual(
    built,
    selflabel((m) =>
      new SelfLabelTrainer(m, {
        learningRate: config.selflabel.learningRate,
        threshold: 0.34,
        head: 1,
        augmentation: augmentationOf(config),
        headOnly: true,
      }, streams.random("selflabel.augment", 3))
    ),
  );
});
