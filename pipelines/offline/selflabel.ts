/**
 * Stage 3, self-labelling (the official code's selflabel.py): from the best SCAN model, confident
 * predictions of SCAN's kept head become pseudo-labels for a cross-entropy on strong views.
 * Checkpointed in `selflabel/` after every epoch; with no self-labelling epochs configured, the
 * SCAN model is saved there as the final one. After training, the run chooses the model it serves
 * (src/run/final_model.ts) and reports both.
 */
import { gatherBatch } from "../../src/data/dataset.ts";
import { map, pipe } from "rxjs";
import { trainStep } from "../../src/operators/train_step.ts";
import { disposeClustering, loadClustering, saveClustering } from "../../src/run/checkpoints.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { neighbourAgreement } from "../../src/eval/neighbour_agreement.ts";
import { topClusters } from "../../src/eval/selflabel_diagnosis.ts";
import { chooseFinalModel } from "../../src/run/final_model.ts";
import { predictDataset } from "../../src/run/inference.ts";
import type { ClusteringModel } from "../../src/stages/models.ts";
import { logLine } from "../../src/util/progress.ts";
import type { SelfLabelReport, StageContext } from "./context.ts";
import { runEpoch } from "./epoch.ts";
import { evaluate } from "./evaluate.ts";

/**
 * Train (or resume) self-labelling of `head`, starting from `scan` (which it takes over and
 * disposes), then choose the final model by agreement with the mined `neighbours` [n, K], the SCAN
 * model's being `scanAgreement` (measured by trainScan); resolves to the report once the final
 * model is saved and chosen.
 */
export async function trainSelfLabel(
  run: StageContext,
  scan: ClusteringModel,
  head: number,
  neighbours: Int32Array,
  scanAgreement: number,
): Promise<SelfLabelReport> {
  const { config, train, paths, state, trainers } = run;
  const { epochs, batchSize } = config.selflabel;
  let model = scan;
  if (state.selflabel.epochs > 0) {
    disposeClustering(scan);
    model = await loadClustering(paths.selflabel);
  }
  if (state.selflabel.epochs < epochs) {
    // More epochs make a new model: a choice made for the old one no longer holds.
    delete state.final;
    const trainer = trainers.selflabel(model, head, { position: state.selflabel.epochs });
    for (let epoch = state.selflabel.epochs; epoch < epochs; epoch++) {
      const t0 = performance.now();
      let confident = 0;
      const loss = await runEpoch(
        `selflabel ${epoch + 1}/${epochs}`,
        train,
        batchSize,
        trainers.streams.random("selflabel.batches", epoch),
        pipe(map((indices: number[]) => gatherBatch(train, indices)), trainStep(trainer)),
        (l) => {
          confident += l.confident;
          return l.loss;
        },
      );
      await saveClustering(model, paths.selflabel);
      state.selflabel.epochs = epoch + 1;
      state.selflabel.seconds += (performance.now() - t0) / 1000;
      await run.save();
      logLine(
        `selflabel epoch ${epoch + 1}: cross-entropy ${loss.toFixed(4)}, confident ${confident}`,
      );
      const seconds = (performance.now() - t0) / 1000;
      if (
        epoch + 1 < epochs && !(await run.budget?.proceed("selflabel", epoch + 1, seconds) ?? true)
      ) break;
    }
    trainer.dispose();
  } else if (state.selflabel.epochs === 0) {
    // No self-labelling configured: the SCAN model is the final one.
    await saveClustering(model, paths.selflabel);
  }
  if (state.selflabel.epochs > 0 && state.final === undefined) {
    const t0 = performance.now();
    const selfAgreement = await agreementOf(model, head, train, neighbours, config.neighbours);
    const choice = chooseFinalModel(scanAgreement, selfAgreement);
    if (choice !== null) state.final = choice;
    state.selflabel.seconds += (performance.now() - t0) / 1000;
    // `train` prints the choice with the figures (figures.ts).
    await run.save();
  }
  const report: SelfLabelReport = { seconds: state.selflabel.seconds };
  if (state.final) report.final = state.final;
  if (run.evaluation.labels) report.metrics = await evaluate(model, head, run.evaluation, config);
  disposeClustering(model);
  return report;
}

/** Agreement of the kept head's clusters on the training images with their mined neighbours. */
async function agreementOf(
  model: ClusteringModel,
  head: number,
  train: Dataset,
  neighbours: Int32Array,
  k: number,
): Promise<number> {
  const probabilities = await predictDataset(model, head, train);
  const { clusters } = topClusters(probabilities, train.n, probabilities.length / train.n);
  return neighbourAgreement(clusters, neighbours, k);
}
