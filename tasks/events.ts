/**
 * `deno task events`: subscribe to a stream's events and print each as one JSON line on stdout,
 * as it arrives, from the first one JetStream kept (a late subscriber replays). Each line is the
 * event with a leading `type`: "assignment", "refusal" or "cluster-update". Runs until
 * SIGINT/SIGTERM, then exits 0.
 */
import { parseArgs } from "node:util";
import { merge, mergeMap, type Observable, Subject, takeUntil } from "rxjs";
import {
  assignmentEvent,
  clusterUpdateEvent,
  decodeEvent,
  labelEvent,
  refusalEvent,
} from "../src/stream/events.ts";
import type { BusMessage } from "../src/transport/bus.ts";
import { subjects } from "../src/transport/subjects.ts";
import { logLine } from "../src/util/progress.ts";
import { printable } from "../src/util/quote.ts";
import { pipelineNameFlag, runTask, UsageError } from "./_cli.ts";
import { connectNats, NATS_CREDENTIALS_USAGE, NATS_FLAGS, natsUrlOrLocal } from "./_nats_cli.ts";

const USAGE =
  `usage: deno task events [--nats URL] [--name NAME] [--subject clusters|assignments|errors|labels|all]
    [--nats-creds FILE | --nats-user U --nats-pass P | --nats-token T]

  URL: the NATS server of the stream (default: $NATS_URL, else nats://127.0.0.1:4222).
  NAME: the pipeline name (default default).
  --subject: which events (default all).
${NATS_CREDENTIALS_USAGE}`;

const KINDS = {
  assignments: { type: "assignment", construct: assignmentEvent },
  errors: { type: "refusal", construct: refusalEvent },
  clusters: { type: "cluster-update", construct: clusterUpdateEvent },
  labels: { type: "labels", construct: labelEvent },
} as const;
type Kind = keyof typeof KINDS;

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      ...NATS_FLAGS,
      name: { type: "string" },
      subject: { type: "string" },
    },
  });
  const name = pipelineNameFlag(values.name);
  const choice = values.subject ?? "all";
  if (choice !== "all" && !(choice in KINDS)) {
    throw new UsageError(
      `--subject must be one of clusters, assignments, errors, labels, all, current value is ${choice}`,
    );
  }
  const kinds = choice === "all" ? Object.keys(KINDS) as Kind[] : [choice as Kind];
  const bus = await connectNats(natsUrlOrLocal(values.nats), name, values);
  const s = subjects(name);
  const stop = new Subject<void>();
  const onSignal = () => stop.next();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const encoder = new TextEncoder();
  try {
    const lines: Observable<string> = merge(
      ...kinds.map((kind) =>
        bus.subscribe(s[kind], { deliverAll: true }).pipe(
          mergeMap((msg: BusMessage) => {
            try {
              const event = decodeEvent(msg.payload, KINDS[kind].construct as (f: never) => object);
              return [JSON.stringify({ type: KINDS[kind].type, ...event })];
            } catch (error) {
              logLine(
                `skipped a malformed message on ${msg.subject}: ${
                  printable((error as Error).message)
                }`,
              );
              return [];
            }
          }),
        )
      ),
    ).pipe(takeUntil(stop));
    logLine(`printing ${kinds.join(", ")} of ${name}`);
    await new Promise<void>((resolve, reject) => {
      lines.subscribe({
        // Written synchronously, so a reader sees each event as soon as it arrives.
        next: (line) => writeAll(encoder.encode(line + "\n")),
        error: reject,
        complete: resolve,
      });
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await bus.close();
  }
});

function writeAll(bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}
