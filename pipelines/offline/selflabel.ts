/**
 * Stage 3, self-labelling (the official code's selflabel.py): from the best SCAN model, confident
 * predictions of SCAN's kept head become pseudo-labels for a cross-entropy on strong views.
 * Checkpointed in `selflabel/` after every epoch; with no self-labelling epochs configured, the
 * SCAN model is saved there as the final one.
 */
import { gatherBatch } from "../../src/data/dataset.ts";
import { map, pipe } from "rxjs";
import { trainStep } from "../../src/operators/train_step.ts";
import { disposeClustering, loadClustering, saveClustering } from "../../src/run/checkpoints.ts";
import type { ClusteringModel } from "../../src/stages/models.ts";
import { logLine } from "../../src/util/progress.ts";
import type { SelfLabelReport, StageContext } from "./context.ts";
import { runEpoch } from "./epoch.ts";
import { evaluate } from "./evaluate.ts";

/**
 * Train (or resume) self-labelling of `head`, starting from `scan` (which it takes over and
 * disposes); resolves to the report once the final model is saved.
 */
export async function trainSelfLabel(
  run: StageContext,
  scan: ClusteringModel,
  head: number,
): Promise<SelfLabelReport> {
  const { config, train, paths, state, trainers } = run;
  const { epochs, batchSize } = config.selflabel;
  let model = scan;
  if (state.selflabel.epochs > 0) {
    disposeClustering(scan);
    model = await loadClustering(paths.selflabel);
  }
  if (state.selflabel.epochs < epochs) {
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
  const report: SelfLabelReport = { seconds: state.selflabel.seconds };
  if (run.evaluation.labels) report.metrics = await evaluate(model, head, run.evaluation, config);
  disposeClustering(model);
  return report;
}
