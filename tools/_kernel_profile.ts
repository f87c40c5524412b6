/**
 * Where a training step's time goes, kernel by kernel: `tf.profile` of one SimCLR step, split
 * into its forward pass (the loss, taped), its backward pass (the gradients) and the optimiser's
 * update. Wasm kernels are synchronous, so each kernel's time is its own wall time.
 *
 * Kernels this project writes with other tf ops (src/backend/kernels/) run kernels inside
 * themselves; tfjs records those too, before their parent. Only top-level kernels count towards
 * the phases (their time includes what they run inside); the inner ones are reported apart,
 * under their parent, to show what a composite kernel spends its time on.
 */
import * as tf from "@tensorflow/tfjs-core";
import { simclrStepLoss, type SimclrStepState } from "./_train_step.ts";
import { median } from "../src/util/median.ts";

export type Phase = "forward" | "backward" | "optimizer";

/** One kernel at one set of input shapes, summed over its calls. */
export interface KernelRow {
  name: string;
  inputShapes: (number[] | null)[];
  calls: number;
  ms: number;
  /** Fraction of the phase's kernel time (or, for inner kernels, of the parent's). */
  share: number;
}

export interface PhaseProfile {
  /** Wall time of the phase; what kernels do not account for is JavaScript around them. */
  wallMs: number;
  /** Sum of the phase's top-level kernel times. */
  kernelMs: number;
  calls: number;
  /** All kernels, largest total first. */
  kernels: KernelRow[];
  /** The same, grouped by name over all shapes. */
  byName: KernelRow[];
}

export interface StepProfile {
  /** Wall time of the profiled step (profiling adds a little to it). */
  wallMs: number;
  /** Sum over the phases of their kernel time; the rest of wallMs is JavaScript around kernels. */
  kernelMs: number;
  phases: Record<Phase, PhaseProfile>;
  /** Kernels run inside composite kernels, keyed by parent name. */
  inner: Record<string, KernelRow[]>;
}

/**
 * Kernels that only hand a tensor on (the stock kernels' own bookkeeping inside Add, Relu...):
 * a parent that runs nothing else is no composite kernel, and is left out of `inner`.
 */
const PLUMBING = new Set(["Identity", "Reshape"]);

interface Recorded {
  name: string;
  inputShapes: (number[] | null)[];
  kernelTimeMs: number;
  /** Kernel nesting depth when it finished: 0 for a kernel an op called. */
  depth: number;
}

/**
 * Profile one training step of `state`: `optimizer.minimize` split into `variableGrads` and
 * `applyGradients` (what minimize runs), with marks between the phases. Warm up first: the first
 * step allocates the optimiser's slots and compiles nothing worth measuring.
 */
/** A training step split the way the profile reports it. */
export interface ProfiledStep {
  /** The loss, computed under the gradient tape (the forward pass). */
  loss(): tf.Scalar;
  /** The variables to differentiate (default: every trainable one). */
  readonly variables?: tf.Variable[];
  /** Apply the gradients (the optimiser's update). */
  apply(grads: tf.NamedTensorMap): void;
}

/** The tfjs-layers step of `_train_step.ts` (batch norm layers, `tf.train.adam`). */
export function layersStep(state: SimclrStepState): ProfiledStep {
  return {
    loss: () => simclrStepLoss(state),
    apply: (grads) => state.optimizer.applyGradients(grads),
  };
}

export async function profileStep(step: ProfiledStep): Promise<StepProfile> {
  const engine = tf.engine();
  // The engine pushes each kernel's record as it finishes, after its depth counter is back to the
  // caller's: tag each with that depth, to tell a kernel an op ran from one a kernel ran.
  let kernels: Recorded[] = [];
  const marks: Record<string, number> = {};
  const times: Record<string, number> = {};
  const started = performance.now();
  const info = await tf.profile(() => {
    kernels = engine.state.activeProfile.kernels = depthTagged(engine) as never;
    const { value, grads } = tf.variableGrads(() => {
      const loss = step.loss();
      marks.forward = kernels.length;
      times.forward = performance.now();
      return loss;
    }, step.variables);
    marks.backward = kernels.length;
    times.backward = performance.now();
    step.apply(grads);
    tf.dispose(grads);
    const loss = value.dataSync()[0];
    value.dispose();
    if (!Number.isFinite(loss)) throw new Error(`Cannot profile: the loss became ${loss}`);
  });
  const wallMs = performance.now() - started;
  const phaseWall: Record<Phase, number> = {
    forward: times.forward - started,
    backward: times.backward - times.forward,
    optimizer: started + wallMs - times.backward,
  };
  const recorded = info.kernels as unknown as Recorded[];
  const phaseOf = (index: number): Phase =>
    index < marks.forward ? "forward" : index < marks.backward ? "backward" : "optimizer";

  const top: Record<Phase, Recorded[]> = { forward: [], backward: [], optimizer: [] };
  const inner: Record<string, Recorded[]> = {};
  let pending: Recorded[] = [];
  for (const [index, kernel] of recorded.entries()) {
    if (kernel.depth > 0) {
      pending.push(kernel);
      continue;
    }
    top[phaseOf(index)].push(kernel);
    if (pending.length > 0) (inner[kernel.name] ??= []).push(...pending);
    pending = [];
  }
  const phases = Object.fromEntries(
    (Object.keys(top) as Phase[]).map((
      phase,
    ) => [phase, { wallMs: round(phaseWall[phase]), ...summarise(top[phase]) }]),
  ) as Record<Phase, PhaseProfile>;
  return {
    wallMs,
    kernelMs: Object.values(phases).reduce((sum, p) => sum + p.kernelMs, 0),
    phases,
    inner: Object.fromEntries(
      Object.entries(inner)
        .filter(([, rows]) => rows.some((k) => !PLUMBING.has(k.name)))
        .map(([parent, rows]) => [parent, summarise(rows).kernels]),
    ),
  };
}

function depthTagged(engine: ReturnType<typeof tf.engine>): Recorded[] {
  const list: Recorded[] = [];
  const push = list.push.bind(list);
  list.push = (...items: Recorded[]) => {
    for (const item of items) item.depth = engine.state.kernelDepth;
    return push(...items);
  };
  return list;
}

function summarise(kernels: Recorded[]): Omit<PhaseProfile, "wallMs"> {
  const total = kernels.reduce((sum, k) => sum + k.kernelTimeMs, 0);
  const group = (key: (k: Recorded) => string, shapes: boolean) => {
    const rows = new Map<string, KernelRow>();
    for (const k of kernels) {
      const id = key(k);
      const row = rows.get(id) ??
        { name: k.name, inputShapes: shapes ? k.inputShapes : [], calls: 0, ms: 0, share: 0 };
      row.calls++;
      row.ms += k.kernelTimeMs;
      rows.set(id, row);
    }
    return [...rows.values()]
      .map((row) => ({ ...row, ms: round(row.ms), share: round(total > 0 ? row.ms / total : 0) }))
      .sort((a, b) => b.ms - a.ms);
  };
  return {
    kernelMs: round(total),
    calls: kernels.length,
    kernels: group((k) => `${k.name} ${JSON.stringify(k.inputShapes)}`, true),
    byName: group((k) => k.name, false),
  };
}

/**
 * Several profiled steps as one: each kernel row's time is its median over the steps, so a step
 * slowed by another process on this shared machine does not make a kernel look slow. Calls are
 * the same every step (the same step runs); shares are recomputed from the medians.
 */
export function medianProfile(profiles: StepProfile[]): StepProfile {
  const phases = {} as Record<Phase, PhaseProfile>;
  for (const phase of Object.keys(profiles[0].phases) as Phase[]) {
    const rows = medianRows(profiles.map((p) => p.phases[phase].kernels));
    const kernelMs = rows.reduce((sum, row) => sum + row.ms, 0);
    phases[phase] = {
      wallMs: round(median(profiles.map((p) => p.phases[phase].wallMs))),
      kernelMs: round(kernelMs),
      calls: profiles[0].phases[phase].calls,
      kernels: withShares(rows, kernelMs),
      byName: withShares(byName(rows), kernelMs),
    };
  }
  const inner: Record<string, KernelRow[]> = {};
  for (const parent of Object.keys(profiles[0].inner)) {
    const rows = medianRows(profiles.map((p) => p.inner[parent] ?? []));
    inner[parent] = withShares(rows, rows.reduce((sum, row) => sum + row.ms, 0));
  }
  return {
    wallMs: round(median(profiles.map((p) => p.wallMs))),
    kernelMs: round(Object.values(phases).reduce((sum, p) => sum + p.kernelMs, 0)),
    phases,
    inner,
  };
}

/** Per row (name and shapes), the median of its time over the lists; absent counts as 0. */
function medianRows(lists: KernelRow[][]): KernelRow[] {
  const keyOf = (row: KernelRow) => `${row.name} ${JSON.stringify(row.inputShapes)}`;
  const rows = new Map<string, KernelRow>();
  for (const list of lists) {
    for (const row of list) if (!rows.has(keyOf(row))) rows.set(keyOf(row), row);
  }
  return [...rows.entries()].map(([key, row]) => ({
    ...row,
    ms: median(lists.map((list) => list.find((r) => keyOf(r) === key)?.ms ?? 0)),
  }));
}

function byName(rows: KernelRow[]): KernelRow[] {
  const named = new Map<string, KernelRow>();
  for (const row of rows) {
    const sum = named.get(row.name) ??
      { name: row.name, inputShapes: [], calls: 0, ms: 0, share: 0 };
    sum.calls += row.calls;
    sum.ms += row.ms;
    named.set(row.name, sum);
  }
  return [...named.values()];
}

function withShares(rows: KernelRow[], total: number): KernelRow[] {
  return rows
    .map((row) => ({ ...row, ms: round(row.ms), share: round(total > 0 ? row.ms / total : 0) }))
    .sort((a, b) => b.ms - a.ms);
}

/** The profile as a table for people: the `top` largest rows of each phase, then by name. */
export function formatProfile(profile: StepProfile, top: number, steps = 1): string {
  const lines: string[] = [];
  const ms = (v: number) => v.toFixed(1).padStart(8);
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`.padStart(6);
  const rowLine = (row: KernelRow, shapes: boolean) =>
    `  ${row.name.padEnd(22)} ${String(row.calls).padStart(5)} ${ms(row.ms)} ${pct(row.share)}` +
    (shapes ? `  ${row.inputShapes.map((s) => (s ? `[${s}]` : "-")).join(" ")}` : "");
  lines.push(
    `step: ${profile.wallMs.toFixed(0)} ms wall, ${profile.kernelMs.toFixed(0)} ms in kernels` +
      (steps > 1 ? ` (medians over ${steps} profiled steps)` : ""),
  );
  for (const [phase, p] of Object.entries(profile.phases)) {
    lines.push(
      `${phase}: ${p.wallMs.toFixed(0)} ms wall, ${
        p.kernelMs.toFixed(1)
      } ms in ${p.calls} kernels ` +
        `(${(100 * p.kernelMs / profile.kernelMs).toFixed(1)}% of the step's kernel time)`,
    );
    lines.push(
      `  ${"kernel".padEnd(22)} ${"calls".padStart(5)} ${"ms".padStart(8)}  share  inputs`,
    );
    for (const row of p.kernels.slice(0, top)) lines.push(rowLine(row, true));
    lines.push(`  by name:`);
    for (const row of p.byName.slice(0, top)) lines.push(rowLine(row, false));
  }
  for (const [parent, rows] of Object.entries(profile.inner)) {
    lines.push(`inside ${parent} (share of the inner kernels' time):`);
    for (const row of rows.slice(0, top)) lines.push(rowLine(row, true));
  }
  return lines.join("\n");
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}
