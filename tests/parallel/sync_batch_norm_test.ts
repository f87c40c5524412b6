/**
 * syncBatchNorm through oneDNN against the same function in tf ops: values, and the gradients
 * with respect to x, gamma and beta, on one worker and on two (two threads in this process
 * cannot share a wasm backend, so two shards meet through a collective that replays the other
 * shard's contribution, recorded from a run over that shard).
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../src/backend/backend.ts";
import { openOneDnn } from "../../src/backend/onednn/library.ts";
import { type Collective, SOLO } from "../../src/parallel/collective.ts";
import {
  combineMoments,
  setBatchNormEngine,
  syncBatchNorm,
} from "../../src/parallel/sync_batch_norm.ts";
import { Random } from "../../src/util/random.ts";

await initBackend("wasm");
const dnn = openOneDnn();
const ignore = typeof dnn === "string" && Deno.env.get("SCANSTREAM_REQUIRE_ONEDNN") !== "1";

function seeded(shape: number[], seed: number, shift = 0): tf.Tensor {
  const rng = new Random(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.normal() + shift), shape);
}

/** y, dx, dgamma, dbeta of sum(y * w) for a fixed w, through `engine`. */
function run(engine: "auto" | "tf", x: tf.Tensor, collective: Collective): Float32Array[] {
  setBatchNormEngine(engine);
  try {
    const channels = x.shape[3]!;
    const gamma = seeded([channels], 2, 1) as tf.Tensor1D;
    const beta = seeded([channels], 3) as tf.Tensor1D;
    const w = seeded(x.shape, 4);
    const before = tf.memory().numTensors;
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(syncBatchNorm(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5, collective), w));
    const y = tf.tidy(() => syncBatchNorm(x, gamma, beta, 1e-5, collective));
    const grads = tf.grads(f)([x, gamma, beta]);
    assert.equal(tf.memory().numTensors, before + 4, `${engine}: leaked tensors`);
    const out = [y, ...grads].map((t) => t.dataSync().slice() as Float32Array);
    tf.dispose([y, ...grads, gamma, beta, w]);
    return out;
  } finally {
    setBatchNormEngine("auto");
  }
}

function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0, scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

Deno.test({
  name: "syncBatchNorm: oneDNN equals tf ops on one worker, values and gradients",
  ignore,
  fn: () => {
    // A mean far from zero, as after a convolution without bias.
    const x = seeded([6, 5, 5, 16], 1, 3);
    const viaOneDnn = run("auto", x, SOLO);
    const viaTf = run("tf", x, SOLO);
    ["y", "dx", "dgamma", "dbeta"].forEach((name, i) => {
      const error = relativeError(viaOneDnn[i], viaTf[i]);
      assert(error < 1e-4, `${name}: relative error ${error}`);
    });
    x.dispose();
  },
});

/**
 * A collective for shard `rank` of two whose peer's vectors were recorded (`peer`) from a run of
 * the peer's shard against this one's; the first run records, the second replays.
 */
function pairCollective(rank: number, mine: Float32Array[], peer: Float32Array[]): Collective {
  let call = 0;
  return {
    rank,
    size: 2,
    allReduceSum: (local) => {
      mine.push(local.slice());
      const other = peer[call++];
      if (other === undefined) return local.slice();
      // In rank order, as the shared collective adds them.
      const sum = new Float32Array(local.length);
      const [first, second] = rank === 0 ? [local, other] : [other, local];
      for (let i = 0; i < sum.length; i++) sum[i] = first[i] + second[i];
      return sum;
    },
    allGather: () => {
      throw new Error("not used by batch norm");
    },
    allGatherEqual: (local) => {
      mine.push(local.slice());
      const other = peer[call++] ?? local;
      return rank === 0 ? [local.slice(), other.slice()] : [other.slice(), local.slice()];
    },
    barrier: () => {},
    waitedMs: () => 0,
  };
}

Deno.test({
  name: "syncBatchNorm: oneDNN equals tf ops on two shards, values and gradients",
  ignore,
  fn: () => {
    const whole = seeded([8, 4, 4, 16], 5, 2);
    const shards = [
      tf.slice(whole, [0, 0, 0, 0], [3, -1, -1, -1]),
      tf.slice(whole, [3, 0, 0, 0], [5, -1, -1, -1]),
    ];
    const results: Record<string, Float32Array[][]> = {};
    for (const engine of ["auto", "tf"] as const) {
      // Each exchange depends on the previous ones' sums, so the two shards are run in lockstep
      // by repetition: record with the peer's vectors known so far until nothing changes.
      let vectors: Float32Array[][] = [[], []];
      let outputs: Float32Array[][] = [];
      for (let round = 0; round < 8; round++) {
        const next: Float32Array[][] = [[], []];
        outputs = shards.map((shard, rank) =>
          run(engine, shard, pairCollective(rank, next[rank], vectors[1 - rank]))
        );
        const settled = next.every((v, r) =>
          v.length === vectors[r].length && v.every((a, i) => relativeError(a, vectors[r][i]) === 0)
        );
        vectors = next;
        if (settled) break;
      }
      results[engine] = outputs;
    }
    for (const rank of [0, 1]) {
      ["y", "dx", "dgamma", "dbeta"].forEach((name, i) => {
        const error = relativeError(results.auto[rank][i], results.tf[rank][i]);
        assert(error < 1e-4, `shard ${rank} ${name}: relative error ${error}`);
      });
    }
    tf.dispose([whole, ...shards]);
  },
});

Deno.test("combineMoments: the shards' moments give the whole batch's, for any split", () => {
  const channels = 3;
  // Channel c: values around a mean far from zero, as after a convolution without bias.
  const rows = Array.from(
    { length: 11 },
    (_, i) => [100 + Math.sin(i), -50 + 0.1 * i * i, 7 + (i % 3)],
  );
  const moments = (part: number[][]) => {
    const out = new Float32Array(2 * channels + 1);
    for (let c = 0; c < channels; c++) {
      const mean = part.reduce((s, r) => s + r[c], 0) / part.length;
      out[c] = mean;
      out[channels + c] = part.reduce((s, r) => s + (r[c] - mean) ** 2, 0) / part.length;
    }
    out[2 * channels] = part.length;
    return out;
  };
  const whole = moments(rows);
  for (const cuts of [[4], [1, 7], [5, 6, 10]]) {
    const bounds = [0, ...cuts, rows.length];
    const shards = bounds.slice(1).map((end, i) => moments(rows.slice(bounds[i], end)));
    const { count, mean, variance } = combineMoments(shards, channels);
    assert.equal(count, rows.length);
    for (let c = 0; c < channels; c++) {
      assert(Math.abs(mean[c] - whole[c]) <= 1e-5 * Math.abs(whole[c]), `mean ${c}`);
      const error = Math.abs(variance[c] - whole[channels + c]) / whole[channels + c];
      assert(error < 1e-4, `variance ${c}: relative error ${error} at cuts ${cuts}`);
    }
  }
});
