/**
 * `deno task bench --scaling`: how much a second worker adds, against how much it could add on
 * this machine. Three pools run the same SimCLR step in turns, round after round, so that the
 * machine's drift falls on all three alike: N workers on the whole batch, one worker on the whole
 * batch, and N single-worker pools each stepping 1/N of the batch at the same time with nothing
 * shared (no batch norm statistics, projections or gradients exchanged). The last is the
 * ceiling of data parallelism here: what the cores give to independent work, memory and cache
 * contention included. Each pool's step also reports the time its workers waited for each other.
 */
import type { BackendName } from "../src/backend/backend.ts";
import { makeConfig } from "../src/config.ts";
import { readWeights } from "../src/parallel/network_weights.ts";
import { TrainingPool } from "../src/parallel/training_pool.ts";
import { StreamModels } from "../src/stream/stream_models.ts";
import { median } from "../src/util/median.ts";
import { randomImages } from "./_pool_step.ts";

export interface ScalingRound {
  /** Milliseconds per step: one worker, `threads` workers, and `threads` independent shards. */
  readonly oneMs: number;
  readonly manyMs: number;
  readonly independentMs: number;
  /** Mean over the workers of the time a step of the `threads`-worker pool waited for peers. */
  readonly waitMs: number;
  readonly speedup: number;
  readonly ceiling: number;
}

/** `rounds` rounds of `iters` timed steps per pool (after one warm-up step each). */
export async function scaling(options: {
  backbone: string;
  backend: BackendName;
  inputSize: number;
  batch: number;
  threads: number;
  rounds: number;
  iters: number;
  onRound?: (round: ScalingRound) => void;
}) {
  const { backbone, backend, inputSize, batch, threads, rounds, iters } = options;
  if (threads < 2 || batch % threads !== 0) {
    throw new RangeError(
      `Cannot measure scaling: needs at least 2 threads dividing the batch, current values are ` +
        `${threads} threads and batch ${batch}`,
    );
  }
  const config = makeConfig("fixtures", { backbone, inputSize, seed: 1 });
  const open = async (n: number) => {
    const models = StreamModels.build(config);
    try {
      return await TrainingPool.open({
        threads: n,
        backend,
        config,
        weights: readWeights(models),
        maxBatch: batch,
      });
    } finally {
      models.dispose();
    }
  };
  const one = await open(1);
  const many = await open(threads);
  const shards = await Promise.all(Array.from({ length: threads - 1 }, () => open(1)));
  const step = { learningRate: 1e-3, temperature: 0.1, seed: 1, augment: false };
  const whole = randomImages(batch, inputSize);
  const shard = randomImages(batch / threads, inputSize);
  const timed = async (body: () => Promise<unknown>) => {
    await body();
    const start = performance.now();
    for (let i = 0; i < iters; i++) await body();
    return (performance.now() - start) / iters;
  };
  const out: ScalingRound[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      let waited = 0;
      const oneMs = await timed(() => one.pretextStep(whole, step));
      const manyMs = await timed(async () => {
        const { waitMs } = await many.pretextStep(whole, step);
        waited += waitMs.reduce((a, b) => a + b, 0) / waitMs.length;
      });
      const independentMs = await timed(() =>
        Promise.all([one, ...shards].map((pool) => pool.pretextStep(shard, step)))
      );
      const round = {
        oneMs: round1(oneMs),
        manyMs: round1(manyMs),
        independentMs: round1(independentMs),
        waitMs: round1(waited / (iters + 1)),
        speedup: round2(oneMs / manyMs),
        ceiling: round2(oneMs / independentMs),
      };
      options.onRound?.(round);
      out.push(round);
    }
  } finally {
    await Promise.all([one, many, ...shards].map((pool) => pool.close()));
  }
  return {
    threads,
    inputSize,
    batch,
    iters,
    rounds: out,
    median: {
      speedup: median(out.map((r) => r.speedup)),
      ceiling: median(out.map((r) => r.ceiling)),
      waitShare: round2(median(out.map((r) => r.waitMs / r.manyMs))),
    },
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
