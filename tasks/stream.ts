/**
 * `deno task stream`: watch a directory and cluster the images dropped into it, publishing every
 * assignment, refusal and cluster update on NATS, until SIGINT/SIGTERM (then it drains, saves
 * its state and exits 0; a second signal exits at once with 130). Progress goes to stderr.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startStream } from "../pipelines/stream.ts";
import { type RunningBoard, startBoard } from "../src/board/board_server.ts";
import { streamImageSource } from "../src/board/image_source.ts";
import { PRESETS } from "../src/config.ts";
import { readLabels } from "../src/data/folder.ts";
import { reportBusAway } from "../src/transport/bus_away.ts";
import { NatsBus } from "../src/transport/nats_bus.ts";
import { logLine } from "../src/util/progress.ts";
import {
  optionalNumber,
  pipelineNameFlag,
  required,
  runTask,
  selectBackend,
  stateOutsideWatch,
  stopOnSignals,
} from "./_cli.ts";
import { NATS_FLAGS, natsAuthOrUsage } from "./_nats_cli.ts";
import { openStreamBus, STREAM_CONFIG_OPTIONS, streamSettings } from "./_stream_setup.ts";
import { streamAutoConfig } from "./_stream_auto.ts";
import { boardPort } from "./board.ts";

const USAGE = `usage: deno task stream --watch DIR [--state STATE] [--nats URL] [--name NAME]
    [--nats-creds FILE | --nats-user U --nats-pass P | --nats-token T]
    [--clusters C] [--labels L] [--preset NAME] [--backend wasm|cpu|tensorflow] [--threads N]
    [--input-size S] [--heads N] [--neighbours K] [--seed N]
    [--pretext-steps N] [--scan-steps N] [--selflabel-steps N] [--warmup-steps N] [--warmup-seconds S]
    [--selflabel-after N] [--min-images N] [--board PORT]

  DIR: the directory to watch (only read); existing images first, then new ones as they land.
  STATE: where the state lives, so a restart resumes (default .scanstream/<NAME>).
  URL: a NATS server (default: $NATS_URL; else a nats-server child on a free loopback port, its
       JetStream data in STATE/nats; else the in-process bus, seen by no other process).
  NAME: the pipeline name, subjects scan.<NAME>.* (default default).
  NATS credentials (for URL): flags, else $NATS_CREDS, $NATS_USER + $NATS_PASS or $NATS_TOKEN;
       prefer the variables or a creds file, since other users can read a command line. They are
       never printed; a URL is logged with any user:pass@ part as ***@.
  L: CSV with header file,label (file relative to DIR); used only for the metrics of updates.
  presets: ${Object.keys(PRESETS).join(", ")} (default fixtures), or auto: settings chosen from
       the images in DIR at the first start, as train's auto (kept in STATE for restarts).
  PORT: serve the live board (deno task board) on 127.0.0.1:PORT too, with neighbour lists
       (0 picks a free port); prints BOARD_URL=...
  Watch with: deno task events --nats URL --name NAME`;

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      watch: { type: "string" },
      state: { type: "string" },
      ...NATS_FLAGS,
      name: { type: "string" },
      labels: { type: "string" },
      backend: { type: "string" },
      ...STREAM_CONFIG_OPTIONS,
      board: { type: "string" },
    },
  });
  const watch = required(values.watch, "--watch");
  const name = pipelineNameFlag(values.name);
  const stateDir = values.state ?? join(".scanstream", name);
  await stateOutsideWatch(watch, stateDir);
  const auto = values.preset === "auto"
    ? await streamAutoConfig(
      watch,
      stateDir,
      optionalNumber(values.clusters, "--clusters"),
      logLine,
    )
    : undefined;
  const { config, rounds, threads } = streamSettings(values, auto);
  const port = values.board === undefined ? undefined : boardPort(values.board, "--board", 0);
  const labels = values.labels === undefined ? undefined : await readLabels(values.labels);
  const backend = await selectBackend(values.backend);

  const url = values.nats ?? Deno.env.get("NATS_URL");
  const { bus, close } = await openStreamBus({
    url,
    auth: url !== undefined && url !== "" ? natsAuthOrUsage(values) : undefined,
    name,
    stateDir,
    log: logLine,
    announce: (serverUrl) => console.log(`NATS_URL=${serverUrl}`),
  });

  let board: RunningBoard | undefined;
  const away = bus instanceof NatsBus ? reportBusAway(bus, name, `stream ${name}`, logLine) : null;
  try {
    logLine(
      `stream ${name}: watching ${watch}, state in ${stateDir}, backend ${backend}, ` +
        `${threads} training thread${threads === 1 ? "" : "s"}`,
    );
    const stream = await startStream({
      watch,
      bus,
      name,
      config,
      rounds,
      stateDir,
      labels,
      log: logLine,
      threads,
    });
    if (port !== undefined) {
      board = startBoard({
        bus,
        name,
        port,
        images: streamImageSource(stream.trainer),
        clusters: config.clusters,
        connection: bus instanceof NatsBus ? bus.connectionChanges() : undefined,
        log: logLine,
      });
      logLine(`board at ${board.url}`);
      console.log(`BOARD_URL=${board.url}`);
    }
    const stopListening = stopOnSignals(() => stream.stop().catch(() => {}), {
      stopping: "stopping: draining and saving the state (a second signal exits at once)",
      second: "second signal: exiting without saving",
    });
    try {
      await stream.done;
    } finally {
      stopListening();
    }
  } finally {
    away?.unsubscribe();
    await board?.close();
    await close();
  }
});
