import assert from "node:assert/strict";
import { hungarian } from "../../src/eval/hungarian.ts";
import { Random } from "../../src/util/random.ts";

function totalCost(cost: number[][], assignment: number[]): number {
  return assignment.reduce((sum, col, row) => (col >= 0 ? sum + cost[row][col] : sum), 0);
}

/** The optimum by trying every injective map from the smaller side into the larger. */
function bruteForceOptimum(cost: number[][]): number {
  const rows = cost.length, cols = cost[0].length;
  const small = Math.min(rows, cols);
  const at = (a: number, b: number) => (rows <= cols ? cost[a][b] : cost[b][a]);
  const large = Math.max(rows, cols);
  let best = Infinity;
  const used = new Array(large).fill(false);
  const search = (a: number, sum: number) => {
    if (a === small) {
      best = Math.min(best, sum);
      return;
    }
    for (let b = 0; b < large; b++) {
      if (used[b]) continue;
      used[b] = true;
      search(a + 1, sum + at(a, b));
      used[b] = false;
    }
  };
  search(0, 0);
  return best;
}

function assertValidAssignment(assignment: number[], rows: number, cols: number): void {
  assert.equal(assignment.length, rows);
  const assigned = assignment.filter((col) => col >= 0);
  assert.equal(assigned.length, Math.min(rows, cols), "every row or every column is matched");
  assert.equal(new Set(assigned).size, assigned.length, "no column is used twice");
  assert.ok(assigned.every((col) => col < cols));
}

Deno.test("hungarian() solves a hand-checked 3x3 problem", () => {
  const cost = [[4, 1, 3], [2, 0, 5], [3, 2, 2]];
  assert.deepEqual(hungarian(cost), [1, 0, 2]);
});

Deno.test("hungarian() finds the optimum of random square and rectangular matrices", () => {
  const rng = new Random(51);
  const shapes = [[1, 1], [2, 2], [5, 5], [7, 7], [3, 6], [6, 3], [1, 5], [5, 1], [4, 7], [7, 2]];
  for (const [rows, cols] of shapes) {
    for (let trial = 0; trial < 5; trial++) {
      // Small integer costs make ties, the case where a greedy matching goes wrong.
      const cost = Array.from(
        { length: rows },
        () => Array.from({ length: cols }, () => rng.int(6)),
      );
      const assignment = hungarian(cost);
      assertValidAssignment(assignment, rows, cols);
      assert.equal(totalCost(cost, assignment), bruteForceOptimum(cost), `${rows}x${cols}`);
    }
  }
});

Deno.test("hungarian() maximises overlap when given negated counts", () => {
  // Cluster c holds mostly class (c + 2) % 4.
  const overlap = [[1, 0, 30, 2], [0, 2, 1, 25], [40, 3, 0, 1], [2, 33, 1, 0]];
  assert.deepEqual(hungarian(overlap.map((row) => row.map((v) => -v))), [2, 3, 0, 1]);
});

Deno.test("hungarian() handles large matrices with real-valued costs", () => {
  const rng = new Random(53);
  const n = 200;
  // A hidden permutation with cost 0 and every other entry at least 1: it is the unique optimum.
  const hidden = rng.shuffle([...Array(n).keys()]);
  const cost = Array.from(
    { length: n },
    (_, i) => Array.from({ length: n }, (_, j) => (j === hidden[i] ? 0 : 1 + rng.next())),
  );
  assert.deepEqual(hungarian(cost), hidden);
});

Deno.test("hungarian() returns nothing to match for empty matrices", () => {
  assert.deepEqual(hungarian([]), []);
  assert.deepEqual(hungarian([[], []]), [-1, -1]);
});

Deno.test("hungarian() rejects ragged and non-finite costs", () => {
  assert.throws(() => hungarian([[1, 2], [3]]), /row 1 is 1/);
  assert.throws(() => hungarian([[1, Number.NaN]]), RangeError);
  assert.throws(() => hungarian([[1, Infinity]]), /costs must be finite/);
});
