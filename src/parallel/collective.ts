/**
 * Collective operations between the training workers of one pool, over shared memory: a barrier
 * and sums of float vectors. Every worker calls the same operations in the same order (they run
 * the same program on different shards of a batch), so the k-th call of one worker meets the
 * k-th call of every other. Sums add the workers' slots in rank order, so every worker gets the
 * bit-identical result, whatever the timing: the property that keeps their weights identical.
 *
 * Waiting uses `Atomics.wait`, which blocks the worker's thread: a step is one synchronous tfjs
 * computation (the tape cannot be left and resumed), so the exchange must happen inside it.
 */

/** The shared buffers of a pool: made once by the main thread, handed to every worker. */
export interface CollectiveBuffers {
  /** Barrier state: [arrived, generation]. */
  readonly control: SharedArrayBuffer;
  /** Two banks of one slot of `slotFloats` float32 per worker (see `sharedCollective`). */
  readonly slots: SharedArrayBuffer;
  readonly slotFloats: number;
  readonly size: number;
}

const ARRIVED = 0;
const GENERATION = 1;

/** Shared buffers for `size` workers exchanging vectors of at most `slotFloats` floats. */
export function collectiveBuffers(size: number, slotFloats: number): CollectiveBuffers {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(
      `Cannot make collective buffers: size must be >= 1, current value is ${size}`,
    );
  }
  return {
    control: new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT),
    slots: new SharedArrayBuffer(2 * size * slotFloats * Float32Array.BYTES_PER_ELEMENT),
    slotFloats,
    size,
  };
}

/** What a training step needs from its peers. With one worker every operation is local. */
export interface Collective {
  readonly rank: number;
  readonly size: number;
  /** The element-wise sum of every worker's `local` (same length everywhere). */
  allReduceSum(local: Float32Array): Float32Array;
  /**
   * Every worker's `local` in rank order, concatenated; `local` may differ in length between
   * workers (uneven shards).
   */
  allGather(local: Float32Array): Float32Array[];
  /** Every worker's `local` in rank order, where all have the same length: one meeting. */
  allGatherEqual(local: Float32Array): Float32Array[];
  barrier(): void;
  /** Milliseconds this worker has spent waiting for its peers so far (a diagnostic). */
  waitedMs(): number;
}

/** The collective of a single worker: nothing to exchange. */
export const SOLO: Collective = {
  rank: 0,
  size: 1,
  allReduceSum: (local) => local.slice(),
  allGather: (local) => [local.slice()],
  allGatherEqual: (local) => [local.slice()],
  barrier: () => {},
  waitedMs: () => 0,
};

/**
 * The collective of worker `rank` over `buffers`. Exchanges alternate between two banks of
 * slots, so each needs one barrier, not two: a worker writes bank b for exchange k + 2 only after
 * the barrier of exchange k + 1, which every worker reaches after reading bank b for exchange k.
 * A step meets its peers some 27 times (batch norm's statistics and gradients, the gathered
 * projections, the gradients), and every meeting waits for the slowest.
 */
export function sharedCollective(buffers: CollectiveBuffers, rank: number): Collective {
  const { size, slotFloats } = buffers;
  if (size === 1) return SOLO;
  const control = new Int32Array(buffers.control);
  const slots = new Float32Array(buffers.slots);
  let bank = 0;
  let waited = 0;
  const slot = (r: number, length: number) => {
    const start = (bank * size + r) * slotFloats;
    return slots.subarray(start, start + length);
  };

  /** Sense-reversing barrier: the last to arrive opens the next generation and wakes the rest. */
  const barrier = () => {
    const generation = Atomics.load(control, GENERATION);
    if (Atomics.add(control, ARRIVED, 1) === size - 1) {
      Atomics.store(control, ARRIVED, 0);
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
    } else {
      const start = performance.now();
      while (Atomics.load(control, GENERATION) === generation) {
        Atomics.wait(control, GENERATION, generation);
      }
      waited += performance.now() - start;
    }
  };

  const publish = (local: Float32Array) => {
    if (local.length > slotFloats) {
      throw new RangeError(
        `Cannot exchange a vector of ${local.length} floats: the slots hold ${slotFloats}`,
      );
    }
    slot(rank, local.length).set(local);
    barrier();
  };

  /** Every worker's vector, worker r's of length `lengthOf(r)`: one meeting. */
  const gather = (local: Float32Array, lengthOf: (r: number) => number) => {
    publish(local);
    const out: Float32Array[] = [];
    for (let r = 0; r < size; r++) out.push(slot(r, lengthOf(r)).slice());
    bank ^= 1;
    return out;
  };

  return {
    rank,
    size,
    barrier,
    waitedMs: () => waited,
    allReduceSum(local) {
      publish(local);
      const sum = new Float32Array(local.length);
      for (let r = 0; r < size; r++) {
        const other = slot(r, local.length);
        for (let i = 0; i < sum.length; i++) sum[i] += other[i];
      }
      bank ^= 1;
      return sum;
    },
    allGather(local) {
      // Lengths first (they may differ), then the vectors.
      const lengthSlot = new Float32Array(size);
      lengthSlot[rank] = local.length;
      const all = this.allReduceSum(lengthSlot);
      return gather(local, (r) => all[r]);
    },
    allGatherEqual(local) {
      return gather(local, () => local.length);
    },
  };
}
