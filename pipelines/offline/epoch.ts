/** The loop every offline stage shares: one epoch of shuffled batches through its step operator. */
import { concatMap, from, lastValueFrom, map, type OperatorFunction, reduce } from "rxjs";
import { type Dataset, epochBatches } from "../../src/data/dataset.ts";
import { progressBar } from "../../src/util/progress.ts";
import type { Random } from "../../src/util/random.ts";

/**
 * One epoch: shuffled batches of indices through a stage's step operator, yielding to the event
 * loop between steps (so signals and timers are served); resolves to the mean loss.
 */
export async function runEpoch<R>(
  label: string,
  dataset: Dataset,
  batchSize: number,
  rng: Random,
  step: OperatorFunction<number[], R>,
  lossOf: (result: R) => number,
): Promise<number> {
  const batches = epochBatches(dataset.n, Math.min(batchSize, dataset.n), (x) => rng.shuffle(x));
  const bar = progressBar(label, batches.length);
  const { sum, count } = await lastValueFrom(
    from(batches).pipe(
      concatMap(async (indices) => {
        await new Promise((resolve) => setTimeout(resolve, 0));
        return indices;
      }),
      step,
      map(lossOf),
      reduce((acc, loss) => {
        bar.tick(1, `loss ${loss.toFixed(4)}`);
        return { sum: acc.sum + loss, count: acc.count + 1 };
      }, { sum: 0, count: 0 }),
    ),
  );
  const mean = sum / Math.max(count, 1);
  bar.done(`mean loss ${mean.toFixed(4)}`);
  return mean;
}
