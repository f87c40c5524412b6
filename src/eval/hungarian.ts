/**
 * Minimum-cost assignment (the Hungarian method, Kuhn 1955, in the O(n^2 m) shortest augmenting
 * path form with potentials). Used to match clusters to classes for accuracy, and to keep cluster
 * ids stable across model versions by matching on overlap.
 */

/**
 * Assign each row to a distinct column so that the summed cost is minimal.
 *
 * Rectangular matrices are fine: with more columns than rows every row gets a column; with more
 * rows than columns every column gets a row and the remaining rows get -1. For a maximum (e.g.
 * most images in common) pass the negated matrix.
 *
 * @param cost `rows x cols` finite costs, every row of the same length.
 * @returns for each row, its column, or -1 when it is left unassigned.
 * @throws {RangeError} when rows differ in length or a cost is not finite.
 */
export function hungarian(cost: number[][]): number[] {
  const rows = cost.length;
  const cols = rows === 0 ? 0 : cost[0].length;
  cost.forEach((row, i) => {
    if (row.length !== cols) {
      throw new RangeError(
        `Cannot match: every row of the cost matrix must have ${cols} entries, ` +
          `current length of row ${i} is ${row.length}`,
      );
    }
    row.forEach((value, j) => {
      if (!Number.isFinite(value)) {
        throw new RangeError(
          `Cannot match: costs must be finite, current value at (${i}, ${j}) is ${value}`,
        );
      }
    });
  });
  if (rows === 0 || cols === 0) return new Array(rows).fill(-1);
  if (rows <= cols) return assignRows(cost, rows, cols);

  // The augmenting-path solver needs rows <= cols: solve the transpose and invert it.
  const transposed = Array.from({ length: cols }, (_, j) => cost.map((row) => row[j]));
  const columnToRow = assignRows(transposed, cols, rows);
  const assignment = new Array(rows).fill(-1);
  columnToRow.forEach((row, col) => (assignment[row] = col));
  return assignment;
}

/** Assignment for `rows <= cols`: each row gets a column. */
function assignRows(cost: number[][], rows: number, cols: number): number[] {
  // 1-based, with index 0 as the virtual start of each augmenting path.
  const u = new Float64Array(rows + 1);
  const v = new Float64Array(cols + 1);
  const rowOfColumn = new Int32Array(cols + 1);
  const previous = new Int32Array(cols + 1);
  const slack = new Float64Array(cols + 1);
  const used = new Uint8Array(cols + 1);
  for (let row = 1; row <= rows; row++) {
    rowOfColumn[0] = row;
    let col0 = 0;
    slack.fill(Infinity);
    used.fill(0);
    do {
      used[col0] = 1;
      const row0 = rowOfColumn[col0];
      let delta = Infinity;
      let col1 = 0;
      for (let col = 1; col <= cols; col++) {
        if (used[col]) continue;
        const reduced = cost[row0 - 1][col - 1] - u[row0] - v[col];
        if (reduced < slack[col]) {
          slack[col] = reduced;
          previous[col] = col0;
        }
        if (slack[col] < delta) {
          delta = slack[col];
          col1 = col;
        }
      }
      for (let col = 0; col <= cols; col++) {
        if (used[col]) {
          u[rowOfColumn[col]] += delta;
          v[col] -= delta;
        } else {
          slack[col] -= delta;
        }
      }
      col0 = col1;
    } while (rowOfColumn[col0] !== 0);
    do {
      const col1 = previous[col0];
      rowOfColumn[col0] = rowOfColumn[col1];
      col0 = col1;
    } while (col0 !== 0);
  }
  const assignment = new Array(rows).fill(-1);
  for (let col = 1; col <= cols; col++) {
    if (rowOfColumn[col] !== 0) assignment[rowOfColumn[col] - 1] = col - 1;
  }
  return assignment;
}
