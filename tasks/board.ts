/**
 * `deno task board`: a live page of a running stream's clusters. It subscribes to the pipeline's
 * events on NATS (replaying what it missed) and serves one page on loopback, pushed to the
 * browser as Server-Sent Events, until SIGINT/SIGTERM. Prints `BOARD_URL=...` on stdout.
 */
import { parseArgs } from "node:util";
import { startBoard } from "../src/board/board_server.ts";
import { logLine } from "../src/util/progress.ts";
import { optionalNumber, pipelineNameFlag, runTask, UsageError } from "./_cli.ts";
import { connectNats, NATS_CREDENTIALS_USAGE, NATS_FLAGS, natsUrlOrLocal } from "./_nats_cli.ts";

const USAGE = `usage: deno task board [--nats URL] [--name NAME] [--port PORT] [--host HOST]
    [--nats-user U --nats-pass P | --nats-token T]

  URL: the stream's NATS server (default: $NATS_URL, else nats://127.0.0.1:4222).
  NAME: the pipeline name, subjects scan.<NAME>.* (default default).
  PORT: where the page is served (default 8080; 0 picks a free port).
  HOST: the address to listen on (default 127.0.0.1: only this machine sees the page).
  Neighbour lists are shown when the board runs inside the stream: deno task stream ... --board PORT
${NATS_CREDENTIALS_USAGE}
       A creds file needs --allow-read of it, which the board task does not grant.`;

/** The port flag, checked. */
export function boardPort(value: string | undefined, flag: string, fallback: number): number {
  const port = optionalNumber(value, flag) ?? fallback;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `${flag} must be an integer port in [0, 65535], current value is ${value}`,
    );
  }
  return port;
}

if (import.meta.main) {
  await runTask(USAGE, async () => {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        ...NATS_FLAGS,
        name: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
      },
    });
    const name = pipelineNameFlag(values.name);
    const port = boardPort(values.port, "--port", 8080);
    const bus = await connectNats(natsUrlOrLocal(values.nats), name, values);
    try {
      const board = startBoard({
        bus,
        name,
        port,
        hostname: values.host,
        connection: bus.connectionChanges(),
        log: logLine,
      });
      logLine(`board for ${name} at ${board.url}`);
      console.log(`BOARD_URL=${board.url}`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        Deno.addSignalListener("SIGINT", stop);
        Deno.addSignalListener("SIGTERM", stop);
      });
      logLine("stopping the board");
      await board.close();
    } finally {
      await bus.close();
    }
  });
}
