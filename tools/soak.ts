/**
 * `deno task soak`: the stream under load. Writes N small images (Fashion-MNIST test images as
 * 28x28 PNGs when /usr/share/datasets/fashion-mnist is there, else synthetic shapes) into a
 * fresh watched directory all at once while a stream runs on it, waits until every image has an
 * assignment, then drops more at a steady rate and measures how fast each is assigned. Stops by
 * itself and prints one JSON object: peak RSS (sampled every 100 ms: Deno refuses
 * /proc/self/status without --allow-all), drain time, lost and duplicated images, the
 * walks that healed lost watcher events, the fill of the bounded buffers, and the assignment
 * latency after the burst. Exit code 1 when an image was lost or duplicated.
 *
 * With `--hostile` (issue 13) it attacks as well: forged messages on every subject, hostile files
 * among the images, two restarts of the nats-server (same port and store) and one SIGKILL of the
 * stream, which then runs as `deno task stream` does, in a child process with a generated NATS
 * credential, and is started again on the same `--state`. Loss and duplicates are then counted
 * on what JetStream holds, by a consumer of the soak's own after the faults.
 *
 * Everything it writes goes under `--dir` (default .scanstream/soak-<pid>): a watched directory
 * and a state directory, removed at the end.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type RunningStream, startStream } from "../pipelines/stream.ts";
import { makeConfig } from "../src/config.ts";
import { synthesizeShapes } from "./synthetic.ts";
import { readIdx } from "../src/data/idx.ts";
import { encodePng } from "../src/image/encode_png.ts";
import { sha256Hex } from "../src/image/hash.ts";
import { BoardState } from "../src/board/board_state.ts";
import { feedBoard } from "../src/board/feed.ts";
import { assignmentSchema } from "../src/protocol/events.ts";
import { forgedMessages } from "../src/protocol/forged.ts";
import { parseJson } from "../src/protocol/parse.ts";
import type { AssignmentEvent } from "../src/stream/events.ts";
import { makeRoundConfig } from "../src/stream/round_config.ts";
import type { Bus } from "../src/transport/bus.ts";
import { MemoryBus } from "../src/transport/memory_bus.ts";
import { NatsBus } from "../src/transport/nats_bus.ts";
import { findNatsServer, type NatsServer, startNatsServer } from "../src/transport/nats_server.ts";
import { subjects } from "../src/transport/subjects.ts";
import { logLine } from "../src/util/progress.ts";
import { managedCredentials } from "../src/transport/managed_credentials.ts";
import { refusalSchema } from "../src/protocol/events.ts";
import { writeHostileFiles } from "./_hostile_files.ts";
import { countStored } from "./_soak_count.ts";
import { StreamSupervisor } from "./_soak_child.ts";
import type { WriteReply, WriteRequest } from "./_soak_writer.ts";
import { optionalNumber, printJson, runTask, selectBackend, UsageError } from "../tasks/_cli.ts";

const USAGE = `usage: deno task soak [--images N] [--after M] [--rate R] [--bus nats|memory]
    [--stall] [--hostile [--kill-gap-s G]] [--per-worker K] [--dir DIR] [--timeout-s T]
    [--backend wasm|cpu|tensorflow]

  N: images dropped at once (default 10000).  M: images dropped afterwards at R per second
  (defaults 200 and 10), whose assignment latency is measured.
  --bus: a managed nats-server on a loopback port (default when installed) or the in-process bus.
  --stall: a FIFO dropped halfway through the burst stalls the watcher, so the events of the
       second half are lost and only the tree walk's diff can find those files (needs mkfifo).
  --hostile: every 2 s, forged messages on every subject of the pipeline (src/protocol/forged.ts),
       read by a board fed from the bus as well as by the soak's own counter: every one must be
       refused, the stream must not fail, and the board must see exactly the real assignments.
       Hostile files go in with the burst and again later (names with LF and CR, a name that is
       not UTF-8, a text file named .png, a truncated PNG, a bomb, a JPEG whose header lies about
       its size, a FIFO); the managed nats-server (with a generated credential) is stopped and
       started again on the same port and store twice, and the stream, run as a child process
       like deno task stream, is killed with SIGKILL once and started again on the same state,
       after G seconds (default 5; over 120, JetStream's duplicate window, only the publish
       ledger keeps each event once). Needs --bus nats. Loss and duplicates are counted on what
       JetStream holds; crashes are exits of the stream nobody asked for.
  K: files queued per decode worker (default: the stream's).
  DIR: where the watched directory and the state go, removed at the end (default
       .scanstream/soak-<pid>).
  T: give up after this long (default 3600); what was not assigned by then counts as lost.`;

/** The path of the `errors` event a stream publishes after the bus was away (bus_away.ts). */
const BUS_AWAY_PATH = "nats (connection)";

const FASHION = "/usr/share/datasets/fashion-mnist";
const NAME = "soak";
const MIB = 1024 * 1024;

/** 28x28 grayscale PNGs: Fashion-MNIST (test split first, then train) or synthetic shapes. */
async function makeImages(count: number): Promise<{ source: string; pngs: Uint8Array[] }> {
  const pngs: Uint8Array[] = [];
  try {
    for (const split of ["t10k", "train"]) {
      if (pngs.length >= count) break;
      const set = await readIdx(join(FASHION, split));
      const pixels = set.rows * set.cols;
      for (let i = 0; i < set.n && pngs.length < count; i++) {
        const samples = set.images.subarray(i * pixels, (i + 1) * pixels);
        pngs.push(
          await encodePng({ width: set.cols, height: set.rows, colorType: "gray", samples }),
        );
      }
    }
    if (pngs.length < count) {
      throw new UsageError(`--images: Fashion-MNIST has ${pngs.length} images, asked ${count}`);
    }
    return { source: "fashion-mnist", pngs };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const perClass = Math.ceil(count / 6);
  const set = synthesizeShapes({ seed: 5, perClass, size: 28 });
  for (let i = 0; i < count; i++) {
    pngs.push(await encodePng({ width: 28, height: 28, colorType: "rgb", samples: set.images[i] }));
  }
  return { source: "synthetic shapes", pngs };
}

/**
 * Write `files` into `dir` from a worker thread (see `_soak_writer.ts`); resolves with the
 * seconds it took. `onWrote` gets each paced file's index and write time (`Date.now()`).
 */
function writeInWorker(
  request: WriteRequest,
  onWrote?: (index: number, at: number) => void,
): Promise<number> {
  const worker = new Worker(new URL("./_soak_writer.ts", import.meta.url).href, {
    type: "module",
  });
  return new Promise<number>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<WriteReply>) => {
      const reply = event.data;
      if (reply.type === "wrote") onWrote?.(reply.index, reply.at);
      else if (reply.type === "done") resolve(reply.seconds);
      else reject(new Error(`Cannot write the burst: ${reply.message}`));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`Cannot write the burst: the writer failed (${event.message})`));
    };
    worker.postMessage(request);
  }).finally(() => worker.terminate());
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      images: { type: "string" },
      after: { type: "string" },
      rate: { type: "string" },
      bus: { type: "string" },
      dir: { type: "string" },
      "timeout-s": { type: "string" },
      backend: { type: "string" },
      "per-worker": { type: "string" },
      stall: { type: "boolean" },
      hostile: { type: "boolean" },
      "kill-gap-s": { type: "string" },
    },
  });
  const stall = values.stall ?? false;
  const hostile = values.hostile ?? false;
  const perWorker = optionalNumber(values["per-worker"], "--per-worker");
  const count = optionalNumber(values.images, "--images") ?? 10_000;
  const after = optionalNumber(values.after, "--after") ?? 200;
  const rate = optionalNumber(values.rate, "--rate") ?? 10;
  const timeoutMs = (optionalNumber(values["timeout-s"], "--timeout-s") ?? 3600) * 1000;
  for (const [flag, value, least] of [["--images", count, 1], ["--after", after, 0]] as const) {
    if (!Number.isInteger(value) || value < least) {
      throw new UsageError(
        `${flag} must be an integer of at least ${least}, current value is ${value}`,
      );
    }
  }
  if (!(rate > 0)) throw new UsageError(`--rate must be positive, current value is ${rate}`);
  const busKind = values.bus ?? ((await findNatsServer()) !== null ? "nats" : "memory");
  if (busKind !== "nats" && busKind !== "memory") {
    throw new UsageError(`--bus must be nats or memory, current value is ${values.bus}`);
  }
  if (hostile && busKind !== "nats") {
    throw new UsageError("--hostile restarts the nats-server: it needs --bus nats");
  }
  const killGapMs = (optionalNumber(values["kill-gap-s"], "--kill-gap-s") ?? 5) * 1000;
  if (!(killGapMs >= 0)) {
    throw new UsageError(`--kill-gap-s must be at least 0, current value is ${killGapMs / 1000}`);
  }
  const backend = await selectBackend(values.backend);

  const { source, pngs } = await makeImages(count + after);
  // The id of an image is the hash of its file: identical images are one image.
  const ids = await Promise.all(pngs.map((png) => sha256Hex(png)));
  const burstIds = new Set(ids.slice(0, count));
  const root = values.dir ?? join(".scanstream", `soak-${Deno.pid}`);
  await Deno.mkdir(root, { recursive: true });
  const watch = await Deno.makeTempDir({ dir: root, prefix: "inbox-" });
  const stateDir = await Deno.makeTempDir({ dir: root, prefix: "state-" });

  // Small rounds: the soak measures ingestion and assignment, not accuracy.
  const config = makeConfig("fixtures", {
    inputSize: 16,
    clusters: 10,
    heads: 1,
    pretext: { batchSize: 64 },
    scan: { batchSize: 64 },
  });
  const rounds = makeRoundConfig(config, { pretextSteps: 2, scanSteps: 4, warmupSteps: 2 });

  let server: NatsServer | undefined;
  let bus: Bus;
  let natsBus: NatsBus | undefined;
  // --hostile: a credential as a managed server has one, never printed; the child gets it in
  // its environment.
  const auth = hostile ? await managedCredentials(stateDir) : undefined;
  const natsStore = hostile
    ? await Deno.makeTempDir({ dir: root, prefix: "nats-" })
    : join(stateDir, "nats");
  if (busKind === "nats") {
    server = await startNatsServer({ storeDir: natsStore, auth });
    bus = natsBus = await NatsBus.connect({ servers: server.url, name: NAME, ...auth });
  } else {
    bus = MemoryBus.forPipeline(NAME);
  }

  // Interrupted: stop the managed server (and the child stream) rather than leave them behind.
  let supervisor: StreamSupervisor | undefined;
  const onSignal = () => {
    logLine("soak: interrupted");
    (supervisor?.stop() ?? Promise.resolve(0)).then(() => server?.stop())
      .finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const assignedAt = new Map<string, number>();
  const assignments = new Map<string, number>();
  const forgery = { published: 0, refusedByCounter: 0, boardSkipped: 0 };
  const following = bus.subscribe(subjects(NAME).assignments, { deliverAll: true }).subscribe({
    next: (message) => {
      let event: AssignmentEvent;
      try {
        event = parseJson(assignmentSchema(config.clusters), message.payload, "assignment");
      } catch {
        // A forged assignment (--hostile) is refused, not counted.
        forgery.refusedByCounter++;
        return;
      }
      assignments.set(event.id, (assignments.get(event.id) ?? 0) + 1);
      // Wall-clock time, comparable with the writer thread's.
      if (!assignedAt.has(event.id)) assignedAt.set(event.id, Date.now());
    },
    error: (error) => logLine(`soak: the live subscription to assignments failed: ${error}`),
    complete: () => logLine("soak: the live subscription to assignments ended"),
  });
  // --hostile: a board fed from the bus, and forged messages on every subject.
  const board = new BoardState({ name: NAME });
  const boardFeed = hostile
    ? feedBoard(bus, NAME, board, { clusters: config.clusters, log: () => forgery.boardSkipped++ })
    : undefined;
  const forged = forgedMessages(NAME, 64, config.inputSize);
  const forger = hostile
    ? setInterval(() => {
      for (const message of forged) {
        bus.publish(message.subject, message.payload, { headers: message.headers })
          .then(() => forgery.published++, () => {});
      }
    }, 2000)
    : undefined;
  const walks = { rescan: 0, interval: 0, missed: 0 };
  let peakRss = Deno.memoryUsage().rss;
  const baselineRss = peakRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  }, 100);
  const started = performance.now();
  let stream: RunningStream | undefined;
  let hostileFiles = 0;
  if (hostile) {
    hostileFiles += await writeHostileFiles(watch, 0);
    // The stream as `deno task stream` runs it, with the soak's settings as flags (the batch
    // sizes are the fixtures preset's: the task has no flag for them).
    supervisor = await StreamSupervisor.start([
      ...["--watch", watch, "--state", stateDir, "--nats", server!.url, "--name", NAME],
      ...["--backend", backend, "--input-size", "16", "--clusters", "10", "--heads", "1"],
      ...["--pretext-steps", "2", "--scan-steps", "4", "--warmup-steps", "2"],
    ], { NATS_USER: auth!.user, NATS_PASS: auth!.pass });
  } else {
    stream = await startStream({
      watch,
      bus,
      name: NAME,
      config,
      rounds,
      stateDir,
      ingest: {
        // Walks every 10 s as well, so the diff path runs even when no event is lost.
        rescanIntervalMs: 10_000,
        ...(perWorker === undefined ? {} : { perWorker }),
        // `missed`: files a walk found not yet emitted (lost events, or still settling).
        onWalk: ({ reason, missed }) => {
          walks[reason]++;
          walks.missed += missed;
          const at = ((performance.now() - started) / 1000).toFixed(1);
          logLine(`soak: ${reason} walk at ${at} s found ${missed} files not yet emitted`);
        },
      },
      log: (line) => {
        if (line.startsWith("round")) logLine(line);
      },
    });
  }
  const deadline = started + timeoutMs;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const waitUntil = async (done: () => boolean) => {
    while (!done() && performance.now() < deadline) await sleep(100);
  };
  const unassigned = (wanted: Iterable<string>) => [...wanted].filter((id) => !assignedAt.has(id));
  const expected = new Set(ids);

  // --hostile: the live subscriber may miss what came during an outage; what JetStream holds
  // fills the gaps every 5 s (those images' latency is not measured exactly).
  let refreshing = false;
  const refresher = hostile
    ? setInterval(async () => {
      if (refreshing || unassigned(expected).length === 0) return;
      refreshing = true;
      try {
        const stored = await countStored(
          natsBus!.connection,
          natsBus!.stream,
          subjects(NAME).assignments,
          assignmentSchema(config.clusters),
          (event) => event.id,
        );
        let filled = 0;
        for (const id of stored.counts.keys()) {
          if (!assignedAt.has(id)) {
            assignedAt.set(id, Date.now());
            filled++;
          }
        }
        if (filled > 0) logLine(`soak: ${filled} assignments on JetStream were not seen live`);
      } catch {
        // The server is away: the next tick tries again.
      } finally {
        refreshing = false;
      }
    }, 5000)
    : undefined;

  // --hostile: the faults, each once the pipeline has come that far (or at once when the images
  // are all in: `ending`), one after the other.
  const faults = { natsRestarts: 0, killGapSeconds: killGapMs / 1000 };
  const restartNats = async () => {
    const { port, storeDir } = server!;
    await server!.stop();
    await sleep(2000);
    server = await startNatsServer({ storeDir, port, auth });
    faults.natsRestarts++;
    logLine(`soak: nats-server back on port ${port}`);
  };
  const killStream = () =>
    supervisor!.kill(async () => {
      // While the stream is dead: more hostile files, and the gap.
      hostileFiles += await writeHostileFiles(watch, 1);
      await sleep(killGapMs);
    });
  let ending = false;
  const plan: [number, string, () => Promise<void>][] = [
    [0.1, "stopping the nats-server for 2 s", restartNats],
    [0.35, `SIGKILL of the stream, restart after ${killGapMs / 1000} s`, killStream],
    [0.6, "stopping the nats-server for 2 s", restartNats],
  ];
  const faulting = hostile
    ? (async () => {
      for (const [fraction, what, act] of plan) {
        await waitUntil(() => ending || assignedAt.size >= fraction * expected.size);
        logLine(`soak: ${what} (${assignedAt.size}/${expected.size} assigned)`);
        await act();
      }
    })()
    : Promise.resolve();
  faulting.catch(() => {});

  let drainSeconds: number | null = null;
  let burstWriteSeconds: number | null = null;
  let latencies: number[] = [];
  let crashes = 0;
  try {
    logLine(`soak: writing ${count} images (${source}) into ${watch}, bus ${busKind}`);
    const burstStart = performance.now();
    const writeSeconds = await writeInWorker({
      dir: watch,
      files: pngs.slice(0, count).map((png, i) => [`img_${String(i).padStart(6, "0")}.png`, png]),
      fifoAt: stall ? Math.floor(count / 2) : undefined,
    });
    logLine(`soak: wrote ${count} images in ${writeSeconds.toFixed(1)} s; draining`);
    burstWriteSeconds = writeSeconds;
    let reported = 0;
    await waitUntil(() => {
      const left = unassigned(burstIds).length;
      if (performance.now() - reported > 10_000) {
        reported = performance.now();
        const inside = stream === undefined
          ? `stream pid ${supervisor?.pid}, ${supervisor?.counts.starts} starts`
          : `store ${stream.trainer.store.n}, rss ${
            (Deno.memoryUsage().rss / MIB).toFixed(0)
          } MiB, buffered ${stream.credits.held}, outbox ${stream.outbox.pending}`;
        logLine(`soak: ${burstIds.size - left}/${burstIds.size} assigned, ${inside}`);
      }
      return left === 0;
    });
    if (unassigned(burstIds).length === 0) {
      drainSeconds = (performance.now() - burstStart) / 1000;
    }

    // After the burst: a steady trickle, each image's latency from its write to its assignment.
    logLine(`soak: drained in ${drainSeconds?.toFixed(1)} s; dropping ${after} at ${rate}/s`);
    const writtenAt = new Map<string, number>();
    const trickle = writeInWorker({
      dir: watch,
      files: pngs.slice(count).map((png, j) => [`late_${String(j).padStart(6, "0")}.png`, png]),
      intervalMs: 1000 / rate,
    }, (j, at) => {
      const id = ids[count + j];
      if (!writtenAt.has(id) && !burstIds.has(id)) writtenAt.set(id, at);
    });
    await trickle;
    await waitUntil(() => unassigned(writtenAt.keys()).length === 0);
    latencies = [...writtenAt].filter(([id]) => assignedAt.has(id))
      .map(([id, at]) => assignedAt.get(id)! - at).sort((a, b) => a - b);
    if (hostile) {
      // Faults not yet done (the images came in faster than planned) happen now; then every
      // image must still be there once, and the restarted stream gets time to repeat itself.
      ending = true;
      await faulting;
      await waitUntil(() => unassigned(expected).length === 0);
      await sleep(10_000);
      // A live reader (the counter, the board) catches up after a restart of the server once
      // its consumer notices (missed heartbeats): give it until the deadline.
      await waitUntil(() =>
        assignments.size >= expected.size && board.snapshot().assigned >= expected.size
      );
    }
  } finally {
    ending = true;
    await faulting.catch((error) => logLine(`soak: a fault failed: ${error}`));
    clearInterval(forger);
    clearInterval(refresher);
    if (supervisor !== undefined) {
      await supervisor.stop();
      crashes += supervisor.counts.crashes;
    }
    await stream?.stop().catch((error) => {
      crashes++;
      logLine(`soak: the stream failed: ${error}`);
    });
    // The last assignments may still be on their way to the subscriber.
    await sleep(1000);
    clearInterval(sampler);
  }
  let lost = unassigned(expected).length;
  let duplicated = [...assignments.values()].filter((n) => n > 1).length;
  let stored: Record<string, unknown> | undefined;
  try {
    if (hostile) {
      // What JetStream holds, read from its first message by a consumer of our own.
      const s = subjects(NAME);
      const onBus = await countStored(
        natsBus!.connection,
        natsBus!.stream,
        s.assignments,
        assignmentSchema(config.clusters),
        (event) => event.id,
      );
      const errors = await countStored(
        natsBus!.connection,
        natsBus!.stream,
        s.errors,
        refusalSchema(),
        (event) => event.path,
      );
      const busAway = errors.counts.get(BUS_AWAY_PATH) ?? 0;
      logLine(`soak: refused on the bus: ${JSON.stringify([...errors.counts])}`);
      errors.counts.delete(BUS_AWAY_PATH);
      lost = [...expected].filter((id) => !onBus.counts.has(id)).length;
      duplicated = [...onBus.counts.values()].filter((n) => n > 1).length +
        [...errors.counts.values()].filter((n) => n > 1).length;
      stored = {
        assignments: [...onBus.counts.values()].reduce((a, b) => a + b, 0),
        distinctImages: onBus.counts.size,
        unknownImages: [...onBus.counts.keys()].filter((id) => !expected.has(id)).length,
        refusals: [...errors.counts.values()].reduce((a, b) => a + b, 0),
        refusedPaths: errors.counts.size,
        refusalsDuplicated: [...errors.counts.values()].filter((n) => n > 1).length,
        busAwayEvents: busAway,
        liveDuplicated: [...assignments.values()].filter((n) => n > 1).length,
        seenLive: assignments.size,
      };
    }
  } finally {
    following.unsubscribe();
    boardFeed?.unsubscribe();
    await bus.close();
    await server?.stop();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  const modelVersion = stream?.trainer.version ?? await savedVersion(stateDir);
  const figures = {
    images: count,
    distinct: burstIds.size,
    source,
    bus: busKind,
    stall,
    backend,
    peakRssMiB: Math.round(peakRss / MIB),
    baselineRssMiB: Math.round(baselineRss / MIB),
    writeSeconds: burstWriteSeconds === null ? null : Number(burstWriteSeconds.toFixed(1)),
    drainSeconds: drainSeconds === null ? null : Number(drainSeconds.toFixed(1)),
    lost,
    duplicated,
    crashes,
    hostile: hostile
      ? {
        ...forgery,
        kinds: forged.length,
        // The board must hold exactly the real images: no forged assignment got in.
        boardAssigned: board.snapshot().assigned,
        boardClusters: board.snapshot().clusters.length,
        hostileFiles,
        natsRestarts: faults.natsRestarts,
        streamKills: supervisor?.counts.kills ?? 0,
        streamStarts: supervisor?.counts.starts ?? 0,
        killGapSeconds: faults.killGapSeconds,
        onBus: stored,
      }
      : undefined,
    walks: stream === undefined ? null : walks,
    peakBuffered: stream?.credits.peak ?? null,
    bufferLimit: stream?.credits.limit ?? null,
    peakOutbox: stream?.outbox.peak ?? null,
    outboxLimit: stream?.outbox.limit ?? null,
    after: {
      images: after,
      rate,
      assigned: latencies.length,
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(latencies.at(-1) ?? NaN),
    },
    modelVersion,
  };
  for (const dir of [watch, stateDir, ...(hostile ? [natsStore] : [])]) {
    await Deno.remove(dir, { recursive: true });
  }
  if (values.dir === undefined) await Deno.remove(root, { recursive: true });
  printJson(figures);
  const boardWrong = hostile && board.snapshot().assigned !== expected.size;
  const faultsMissing = hostile && (faults.natsRestarts < 2 || supervisor!.counts.kills < 1);
  if (lost > 0 || duplicated > 0 || crashes > 0 || boardWrong || faultsMissing) {
    throw new Error(
      `${lost} images lost, ${duplicated} duplicated, ${crashes} crashes` +
        (boardWrong ? `, the board holds ${board.snapshot().assigned} of ${expected.size}` : "") +
        (faultsMissing ? ", not every planned fault happened" : ""),
    );
  }
});

/** The model version in a stream's saved state (null without one). */
async function savedVersion(stateDir: string): Promise<number | null> {
  try {
    const state = JSON.parse(await Deno.readTextFile(join(stateDir, "state.json")));
    return typeof state.version === "number" ? state.version : null;
  } catch {
    return null;
  }
}
