/**
 * `deno task bench-stream`: the single-process stream (`startStream`, with the config, rounds
 * and bus that `deno task stream` builds) against a managed nats-server on loopback, fed by a
 * driver worker that writes image files into the watched directory (under a temporary name,
 * then renamed in) and subscribes to the events on its own connection. Prints one JSON object:
 *
 * - `firstUpdate`: time from the start of the stream, with `--at-start` images already in the
 *   directory, to the first cluster update; and the wait of those images for their assignment
 *   (they can only be assigned once a clustering exists).
 * - `ingest`: then `--burst` images dropped at once, with the trainer running: images per
 *   second from the first rename to the last assignment.
 * - `latency`: then, from a file renamed into the directory to its assignment event, at a
 *   steady `--rate` images per second for `--seconds`; an image still unassigned after the
 *   drain counts with its wait so far (and the percentiles say they are lower bounds).
 * - `fashionMnist`: a fresh stream, images written over time at `--fmnist-rate` with a labels
 *   CSV, for `--minutes` of wall time; the metrics of the last and of the best cluster update.
 *
 * Without the nats-server binary it runs on the in-process bus, says so in `transport`, and
 * takes the times on the stream's own event loop (later by up to a training step).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type RunningStream, startStream, type StreamSummary } from "../pipelines/stream.ts";
import type { ScanConfig } from "../src/config.ts";
import { readLabels } from "../src/data/folder.ts";
import type { ClusterUpdateEvent } from "../src/stream/events.ts";
import type { RoundConfig } from "../src/stream/round_config.ts";
import { assignmentSchema, clusterUpdateSchema } from "../src/protocol/events.ts";
import { parseJson } from "../src/protocol/parse.ts";
import type { Bus } from "../src/transport/bus.ts";
import { subjects } from "../src/transport/subjects.ts";
import { probeBoard } from "./_board_probe.ts";
import { logLine } from "../src/util/progress.ts";
import { optionalNumber, printJson, runTask, selectBackend, UsageError } from "../tasks/_cli.ts";
import type { DriverReply, DriverRequest, ImageSource } from "./_bench_stream_protocol.ts";
import { readCredentials } from "../src/transport/managed_credentials.ts";
import {
  openStreamBus,
  STREAM_CONFIG_OPTIONS,
  type StreamBus,
  streamSettings,
} from "../tasks/_stream_setup.ts";

const FASHION_MNIST = "/usr/share/datasets/fashion-mnist/t10k";
const SHAPES = "fixtures/shapes";

const USAGE = `usage: deno task bench-stream [--quick] [--parts latency,fmnist] [--dir DIR]
    [--images SOURCE] [--at-start M] [--rate R] [--seconds D] [--burst N]
    [--fmnist-images SOURCE] [--fmnist-count N] [--fmnist-rate R] [--minutes T]
    [--timeout S] [--backend wasm|cpu|tensorflow] [stream config flags: --preset NAME ...]

  latency (parts 1 to 3, one stream): M images in the directory at start (default 200); once
       the first cluster update is out, a burst of N images at once (default 200); once they
       are assigned, R images/s (default 50) for D s (default 60), then up to 30 s to drain.
  fmnist (part 4, a fresh stream): N images (default 10000) of SOURCE written at R/s (default
       20), labels from the source, for T minutes of wall time in all (default 20).
  SOURCE: idx:PREFIX (written as PNG files, labels from the IDX file) or a folder (labels from
       its labels.csv); default idx:${FASHION_MNIST}.
  --preset and the other config and round flags of deno task stream apply to both streams
       (default preset fashion-mnist). DIR: where the temporary folders go (default
       .scanstream/bench). S: longest wait for any one phase (default 900).
  --quick: ${SHAPES}, a tiny config and short phases, all in well under a minute.`;

const now = () => performance.timeOrigin + performance.now();

/** Everything a run of the benchmark uses. */
interface Plan {
  readonly quick: boolean;
  readonly dir: string;
  readonly config: ScanConfig;
  readonly preset: string;
  readonly rounds: RoundConfig;
  readonly latencySource: ImageSource;
  readonly atStart: number;
  readonly rate: number;
  readonly seconds: number;
  readonly burst: number;
  readonly fmnistSource: ImageSource;
  readonly fmnistRate: number;
  readonly minutes: number;
  readonly timeoutMs: number;
}

function source(spec: string, limit: number): ImageSource {
  return spec.startsWith("idx:")
    ? { kind: "idx", prefix: spec.slice(4), limit }
    : { kind: "dir", dir: spec, limit };
}

/** One stream under measurement, its driver, and what the driver has seen. */
class Session {
  readonly assigned = new Map<string, { at: number; version: number }>();
  readonly updates: { event: ClusterUpdateEvent; at: number }[] = [];
  readonly #driver: Worker;
  readonly #waiting = new Map<string, (reply: DriverReply) => void>();
  #failure: Error | undefined;
  #bus: StreamBus | undefined;
  #stream: RunningStream | undefined;

  private constructor(
    readonly name: string,
    readonly root: string,
    readonly names: string[],
    readonly labels: (string | undefined)[],
    driver: Worker,
  ) {
    this.#driver = driver;
  }

  get watch(): string {
    return join(this.root, "inbox");
  }

  static async open(name: string, dir: string, source: ImageSource): Promise<Session> {
    const root = await Deno.makeTempDir({ dir, prefix: `${name}_` });
    await Deno.mkdir(join(root, "inbox"));
    const driver = new Worker(new URL("./_bench_stream_driver.ts", import.meta.url), {
      type: "module",
    });
    const session = new Session(name, root, [], [], driver);
    driver.onmessage = (message: MessageEvent<DriverReply>) => session.#receive(message.data);
    driver.onerror = (event) => {
      event.preventDefault();
      session.#fail(new Error(`Cannot drive the stream: the driver failed: ${event.message}`));
    };
    const prepared = await session.#ask(
      { type: "prepare", source, watch: session.watch },
      "prepared",
    );
    if (prepared.type === "prepared") {
      session.names.push(...prepared.names);
      session.labels.push(...prepared.labels);
    }
    return session;
  }

  #receive(reply: DriverReply): void {
    if (reply.type === "assignment") this.#assigned(reply.path, reply.version, reply.at);
    else if (reply.type === "update") this.updates.push({ event: reply.event, at: reply.at });
    else if (reply.type === "failed") this.#fail(new Error(reply.message));
    else {
      const resolve = this.#waiting.get(reply.type);
      this.#waiting.delete(reply.type);
      resolve?.(reply);
    }
  }

  #assigned(path: string, version: number, at: number): void {
    // The first assignment of a path is the one measured (a restart would publish none again).
    if (!this.assigned.has(path)) this.assigned.set(path, { at, version });
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const resolve of this.#waiting.values()) {
      resolve({ type: "failed", message: error.message });
    }
    this.#waiting.clear();
  }

  async #ask(request: DriverRequest, answer: DriverReply["type"]): Promise<DriverReply> {
    if (this.#failure) throw this.#failure;
    const reply = new Promise<DriverReply>((resolve) => this.#waiting.set(answer, resolve));
    this.#driver.postMessage(request);
    const got = await reply;
    if (got.type === "failed") throw new Error(`Cannot drive the stream: ${got.message}`);
    return got;
  }

  /** The bus as `deno task stream` opens it, and a subscriber: the driver's, or one here. */
  async connect(): Promise<StreamBus["transport"]> {
    this.#bus = await openStreamBus({
      name: this.name,
      stateDir: join(this.root, "state"),
      log: logLine,
    });
    if (this.#bus.url !== undefined) {
      const managed = this.#bus.transport === "managed"
        ? await readCredentials(join(this.root, "state"))
        : undefined;
      await this.#ask({
        type: "subscribe",
        url: this.#bus.url,
        name: this.name,
        user: managed?.user,
        pass: managed?.pass,
      }, "subscribed");
    } else {
      const s = subjects(this.name);
      this.#bus.bus.subscribe(s.assignments).subscribe((message) => {
        const at = now();
        const event = parseJson(assignmentSchema(), message.payload, "assignment");
        this.#assigned(event.path, event.modelVersion, at);
      });
      this.#bus.bus.subscribe(s.clusters).subscribe((message) => {
        this.updates.push({
          event: parseJson(clusterUpdateSchema(), message.payload, "cluster update"),
          at: now(),
        });
      });
    }
    return this.#bus.transport;
  }

  /** The bus the stream publishes on (after `connect`). */
  get bus(): Bus {
    return this.#bus!.bus;
  }

  async start(
    config: ScanConfig,
    rounds: RoundConfig,
    labels?: ReadonlyMap<string, string>,
  ): Promise<RunningStream> {
    this.#stream = await startStream({
      watch: this.watch,
      bus: this.#bus!.bus,
      name: this.name,
      config,
      rounds,
      stateDir: join(this.root, "state"),
      labels,
      log: logLine,
    });
    return this.#stream;
  }

  /** Write images `from`..`from + count - 1` at `rate` per second (0: at once). */
  async drop(
    from: number,
    count: number,
    rate: number,
  ): Promise<{ times: number[]; maxLagMs: number }> {
    const reply = await this.#ask({ type: "drop", from, count, rate }, "dropped");
    return reply.type === "dropped" ? reply : { times: [], maxLagMs: 0 };
  }

  /** Wait until `condition` holds; false after `timeoutMs` (or throws when the driver failed). */
  async waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = now() + timeoutMs;
    while (!condition()) {
      if (this.#failure) throw this.#failure;
      if (now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return true;
  }

  allAssigned(from: number, count: number): () => boolean {
    return () => this.names.slice(from, from + count).every((name) => this.assigned.has(name));
  }

  /** Stop the stream (drain and save), the subscriber, the bus and server; remove the folders. */
  async close(): Promise<StreamSummary | undefined> {
    try {
      return await this.#stream?.stop();
    } finally {
      if (!this.#failure) await this.#ask({ type: "close" }, "closed").catch(() => {});
      this.#driver.terminate();
      await this.#bus?.close();
      await Deno.remove(this.root, { recursive: true });
    }
  }
}

/** Nearest-rank percentiles and the like of a list of milliseconds. */
function stats(values: readonly number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted.length === 0
      ? null
      : round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]);
  return {
    count: sorted.length,
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    maxMs: sorted.length === 0 ? null : round(sorted[sorted.length - 1]),
  };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function metric(x: number | undefined): number | null {
  return x === undefined ? null : round(x, 4);
}

function stepsSince(stream: RunningStream, before: RunningStream["trainer"]["steps"]) {
  const after = stream.trainer.steps;
  return {
    rounds: after.rounds - before.rounds,
    pretext: after.pretext - before.pretext,
    scan: after.scan - before.scan,
    selflabel: after.selflabel - before.selflabel,
  };
}

/** Parts 1 to 3 on one stream: first update, steady latency, burst ingest rate. */
async function latencyRun(plan: Plan): Promise<Record<string, unknown>> {
  const steadyCount = Math.round(plan.rate * plan.seconds);
  const need = plan.atStart + steadyCount + plan.burst;
  const session = await Session.open("bench", plan.dir, { ...plan.latencySource, limit: need });
  if (session.names.length < need) {
    await session.close();
    throw new UsageError(
      `--images must hold --at-start + rate x seconds + --burst = ${need} distinct images, ` +
        `current count is ${session.names.length}`,
    );
  }
  try {
    const transport = await session.connect();
    await session.drop(0, plan.atStart, 0);
    logLine(`bench: ${plan.atStart} images in the directory; starting the stream`);
    const t0 = now();
    const stream = await session.start(plan.config, plan.rounds);
    const openedMs = now() - t0;
    if (!(await session.waitFor(() => session.updates.length > 0, plan.timeoutMs))) {
      throw new Error(`Cannot measure: no cluster update within ${plan.timeoutMs} ms`);
    }
    const first = session.updates[0];
    await session.waitFor(session.allAssigned(0, plan.atStart), plan.timeoutMs);
    const waits = session.names.slice(0, plan.atStart).flatMap((name) => {
      const a = session.assigned.get(name);
      return a === undefined ? [] : [a.at - t0];
    });
    const firstUpdate = {
      start: plan.atStart === 0 ? "empty directory" : `${plan.atStart} images in the directory`,
      openMs: round(openedMs),
      firstUpdateMs: round(first.at - t0),
      firstUpdateImages: first.event.images,
      steps: stream.trainer.steps,
      waitForFirstClustering: stats(waits),
    };
    logLine(`bench: first cluster update after ${(first.at - t0).toFixed(0)} ms`);

    // Part 2 first, so that a backlog left by a steady rate the stream cannot keep up with does
    // not count against the burst: a burst, with the trainer running.
    let before = stream.trainer.steps;
    let updatesBefore = session.updates.length;
    const from = plan.atStart;
    const burst = await session.drop(from, plan.burst, 0);
    const all = await session.waitFor(session.allAssigned(from, plan.burst), plan.timeoutMs);
    const done = session.names.slice(from, from + plan.burst).flatMap((name) => {
      const a = session.assigned.get(name);
      return a === undefined ? [] : [a.at];
    });
    const seconds = ((all ? Math.max(...done) : now()) - burst.times[0]) / 1000;
    const ingest = {
      images: plan.burst,
      assigned: done.length,
      allAssigned: all,
      writeSeconds: round((burst.times.at(-1)! - burst.times[0]) / 1000, 2),
      seconds: round(seconds, 2),
      imagesPerSecond: round(done.length / seconds, 1),
      trainer: stepsSince(stream, before),
      updates: session.updates.length - updatesBefore,
    };
    logLine(`bench: burst of ${plan.burst}: ${ingest.imagesPerSecond} images/s`);

    // Part 1: a steady rate, once a clustering exists and the burst is assigned.
    before = stream.trainer.steps;
    updatesBefore = session.updates.length;
    const steadyFrom = plan.atStart + plan.burst;
    // The board on the stream's thread, asked for its page, snapshot and thumbnails meanwhile.
    const probe = probeBoard(session.bus, session.name, stream, plan.config.clusters);
    const steady = await session.drop(steadyFrom, steadyCount, plan.rate);
    const drainMs = plan.quick ? 10_000 : 30_000;
    const keptUp = await session.waitFor(session.allAssigned(steadyFrom, steadyCount), drainMs);
    const end = now();
    const boardTimes = await probe.stop();
    const board = {
      page: stats(boardTimes.page),
      snapshot: stats(boardTimes.snapshot),
      thumbnail: stats(boardTimes.thumbnail),
      failed: boardTimes.failed,
    };
    // An image still unassigned at the end counts with its wait so far: a lower bound.
    const latencies: number[] = [];
    const halves: number[][] = [[], []];
    let unassigned = 0;
    session.names.slice(steadyFrom, steadyFrom + steadyCount).forEach((name, i) => {
      const a = session.assigned.get(name);
      if (a === undefined) unassigned++;
      const wait = (a?.at ?? end) - steady.times[i];
      latencies.push(wait);
      halves[i < steadyCount / 2 ? 0 : 1].push(wait);
    });
    const span = (steady.times.at(-1)! - steady.times[0]) / 1000;
    const achieved = steadyCount > 1 ? (steadyCount - 1) / span : plan.rate;
    const latency = {
      rate: plan.rate,
      seconds: plan.seconds,
      written: steadyCount,
      achievedRate: round(achieved, 2),
      maxWriteLagMs: round(steady.maxLagMs),
      // The writer kept its schedule and the stream assigned every image within the drain time.
      sustained: achieved >= 0.99 * plan.rate && keptUp,
      drainMs,
      unassigned,
      // Images assigned per second from the first write to the end of the drain.
      assignedPerSecond: round((steadyCount - unassigned) / ((end - steady.times[0]) / 1000), 2),
      percentilesAreLowerBounds: unassigned > 0,
      ...stats(latencies),
      p50FirstHalfMs: stats(halves[0]).p50Ms,
      p50SecondHalfMs: stats(halves[1]).p50Ms,
      trainer: stepsSince(stream, before),
      updates: session.updates.length - updatesBefore,
      board,
    };
    logLine(
      `bench: steady ${plan.rate}/s: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, ` +
        `${unassigned} unassigned after the drain; board p99 page ${board.page.p99Ms} ms, ` +
        `snapshot ${board.snapshot.p99Ms} ms, thumbnail ${board.thumbnail.p99Ms} ms`,
    );
    const summary = await session.close();
    return { transport, firstUpdate, latency, ingest, latencySummary: summary };
  } catch (error) {
    await session.close().catch(() => {});
    throw error;
  }
}

/** Part 4: images written over time with their labels, for a fixed wall time. */
async function fashionMnistRun(plan: Plan): Promise<Record<string, unknown>> {
  const session = await Session.open("bench-fmnist", plan.dir, plan.fmnistSource);
  try {
    const wallMs = plan.minutes * 60_000;
    // Only what the writer can write within the wall time.
    const count = Math.min(session.names.length, Math.floor((plan.fmnistRate * wallMs) / 1000));
    const labelsPath = plan.fmnistSource.kind === "dir"
      ? join(plan.fmnistSource.dir, "labels.csv")
      : join(session.root, "labels.csv");
    if (plan.fmnistSource.kind === "idx") {
      const rows = session.names.map((name, i) => `${name},${session.labels[i]}`);
      await Deno.writeTextFile(labelsPath, `file,label\n${rows.join("\n")}\n`);
    }
    const labels = await readLabels(labelsPath);
    const transport = await session.connect();
    const t0 = now();
    const stream = await session.start(plan.config, plan.rounds, labels);
    const dropping = session.drop(0, count, plan.fmnistRate);
    let nextLog = t0 + 60_000;
    await session.waitFor(() => {
      if (now() > nextLog) {
        nextLog += 60_000;
        const last = session.updates.at(-1)?.event;
        logLine(
          `bench: ${((now() - t0) / 60_000).toFixed(1)} min, ${session.assigned.size} assigned, ` +
            `version ${last?.version ?? 0}, accuracy ${last?.accuracy?.toFixed(3) ?? "-"}`,
        );
      }
      return false;
    }, wallMs);
    const written = await dropping;
    const steps = stream.trainer.steps;
    const assigned = session.assigned.size;
    const updates = [...session.updates];
    const metrics = (u: { event: ClusterUpdateEvent; at: number } | undefined) =>
      u === undefined ? null : {
        version: u.event.version,
        images: u.event.images,
        atSeconds: round((u.at - t0) / 1000),
        accuracy: metric(u.event.accuracy),
        nmi: metric(u.event.nmi),
        ari: metric(u.event.ari),
      };
    const best = updates.reduce<typeof updates[number] | undefined>(
      (b, u) => (b === undefined || (u.event.accuracy ?? 0) > (b.event.accuracy ?? 0) ? u : b),
      undefined,
    );
    const summary = await session.close();
    return {
      transport,
      source: plan.fmnistSource.kind === "idx"
        ? `idx:${plan.fmnistSource.prefix}`
        : plan.fmnistSource.dir,
      start: "empty directory",
      minutes: plan.minutes,
      rate: plan.fmnistRate,
      written: written.times.length,
      writeSeconds: written.times.length > 1
        ? round((written.times.at(-1)! - written.times[0]) / 1000, 1)
        : 0,
      maxWriteLagMs: round(written.maxLagMs),
      assigned,
      firstUpdateSeconds: updates.length > 0 ? round((updates[0].at - t0) / 1000) : null,
      updates: updates.length,
      steps,
      last: metrics(updates.at(-1)),
      best: metrics(best),
      summary,
    };
  } catch (error) {
    await session.close().catch(() => {});
    throw error;
  }
}

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      parts: { type: "string" },
      dir: { type: "string" },
      images: { type: "string" },
      "at-start": { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string" },
      burst: { type: "string" },
      "fmnist-images": { type: "string" },
      "fmnist-count": { type: "string" },
      "fmnist-rate": { type: "string" },
      minutes: { type: "string" },
      timeout: { type: "string" },
      backend: { type: "string" },
      ...STREAM_CONFIG_OPTIONS,
    },
  });
  const quick = values.quick ?? false;
  const parts = new Set((values.parts ?? "latency,fmnist").split(","));
  for (const part of parts) {
    if (part !== "latency" && part !== "fmnist") {
      throw new UsageError(`--parts must list latency and/or fmnist, current value is ${part}`);
    }
  }
  const number = (flag: string, normal: number, small: number, least = 1) => {
    const n = optionalNumber(values[flag as keyof typeof values] as string, `--${flag}`) ??
      (quick ? small : normal);
    if (!(n >= least)) {
      throw new UsageError(`--${flag} must be at least ${least}, current value is ${n}`);
    }
    return n;
  };
  const preset = values.preset ?? (quick ? "fixtures" : "fashion-mnist");
  // The quick config is the stream test's: 16 px, two heads, batches of 16, rounds of a few steps.
  const quickFlags = quick
    ? {
      "input-size": "16",
      heads: "2",
      "pretext-steps": "2",
      "scan-steps": "2",
      "selflabel-steps": "1",
      "warmup-steps": "2",
      "min-images": "24",
      "selflabel-after": "4",
    }
    : {};
  const { config: base, rounds } = streamSettings({ ...quickFlags, ...values, preset });
  const config = quick
    ? {
      ...base,
      pretext: { ...base.pretext, batchSize: 16 },
      scan: { ...base.scan, batchSize: 16 },
      selflabel: { ...base.selflabel, batchSize: 16 },
    }
    : base;
  const atStart = number("at-start", 200, 40, 0);
  const rate = number("rate", 50, 50, 0.1);
  const seconds = number("seconds", 60, 2, 0.1);
  const burst = number("burst", 200, 100);
  const fmnistCount = number("fmnist-count", 10_000, 300);
  const plan: Plan = {
    quick,
    dir: values.dir ?? join(".scanstream", "bench"),
    config,
    preset,
    rounds,
    latencySource: source(values.images ?? (quick ? SHAPES : `idx:${FASHION_MNIST}`), 1e9),
    atStart,
    rate,
    seconds,
    burst,
    fmnistSource: source(
      values["fmnist-images"] ?? (quick ? SHAPES : `idx:${FASHION_MNIST}`),
      fmnistCount,
    ),
    fmnistRate: number("fmnist-rate", 20, 100, 0.1),
    minutes: number("minutes", 20, 0.2, 0.05),
    timeoutMs: number("timeout", 900, 60) * 1000,
  };
  const backend = await selectBackend(values.backend);
  await Deno.mkdir(plan.dir, { recursive: true });
  const out: Record<string, unknown> = {
    quick,
    backend,
    preset,
    config: { inputSize: config.inputSize, clusters: config.clusters, heads: config.heads },
    rounds,
    cores: navigator.hardwareConcurrency,
    loadBefore: Deno.loadavg(),
  };
  if (parts.has("latency")) Object.assign(out, await latencyRun(plan));
  if (parts.has("fmnist")) out.fashionMnist = await fashionMnistRun(plan);
  const fm = out.fashionMnist as { transport?: string } | undefined;
  if (out.transport === "memory" || fm?.transport === "memory") {
    out.transportNote = "nats-server not found: the in-process bus, with times taken on the " +
      "stream's event loop";
  }
  out.loadAfter = Deno.loadavg();
  printJson(out);
});
