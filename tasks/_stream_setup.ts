/**
 * How `deno task stream` turns its flags into a config, a round config and a bus, shared with
 * the cluster stage of `deno task worker` (the same flags) and with the stream benchmark, so that
 * it measures the stream as the task runs it.
 */
import { join } from "node:path";
import {
  type ConfigOverrides,
  makeConfig,
  makeConfigFrom,
  type ScanConfig,
} from "../src/config.ts";
import { parseThreads } from "../src/parallel/threads.ts";
import { makeRoundConfig, type RoundConfig } from "../src/stream/round_config.ts";
import type { Bus } from "../src/transport/bus.ts";
import { MemoryBus } from "../src/transport/memory_bus.ts";
import type { NatsAuth } from "../src/transport/nats_auth.ts";
import { describeAuth, redactServers } from "../src/transport/nats_auth.ts";
import { NatsBus } from "../src/transport/nats_bus.ts";
import { findNatsServer, type NatsServer, startNatsServer } from "../src/transport/nats_server.ts";
import {
  credentialsPath,
  managedCredentials,
  writeCredentials,
} from "../src/transport/managed_credentials.ts";
import { numericFlags, UsageError } from "./_cli.ts";

/** The `parseArgs` options of the config and round flags (all strings). */
export const STREAM_CONFIG_OPTIONS = {
  preset: { type: "string" },
  clusters: { type: "string" },
  "input-size": { type: "string" },
  heads: { type: "string" },
  neighbours: { type: "string" },
  seed: { type: "string" },
  "pretext-steps": { type: "string" },
  "scan-steps": { type: "string" },
  "selflabel-steps": { type: "string" },
  "warmup-steps": { type: "string" },
  "warmup-seconds": { type: "string" },
  "selflabel-after": { type: "string" },
  "min-images": { type: "string" },
  threads: { type: "string" },
} as const;

/**
 * The config (preset, default `fixtures`, with overrides) and round config the flags give; the
 * `auto` preset needs its base config chosen from the data (`streamAutoConfig`) as `auto`.
 *
 * @throws {UsageError} for a non-numeric or out-of-range value, or an unknown preset.
 */
export function streamSettings(
  values: Record<string, unknown>,
  auto?: ScanConfig,
): { config: ScanConfig; rounds: RoundConfig; threads: number } {
  const overrides = numericFlags(values, [
    ["clusters", "clusters"],
    ["inputSize", "input-size"],
    ["heads", "heads"],
    ["neighbours", "neighbours"],
    ["seed", "seed"],
  ]);
  const roundOverrides = numericFlags(values, [
    ["pretextSteps", "pretext-steps"],
    ["scanSteps", "scan-steps"],
    ["selflabelSteps", "selflabel-steps"],
    ["warmupSteps", "warmup-steps"],
    ["warmupSeconds", "warmup-seconds"],
    ["selflabelAfter", "selflabel-after"],
    ["minImages", "min-images"],
  ]);
  try {
    const preset = (values.preset as string | undefined) ?? "fixtures";
    if (preset === "auto" && auto === undefined) {
      throw new RangeError("the auto preset needs a watched directory to choose settings from");
    }
    const config = preset === "auto"
      ? makeConfigFrom(auto!, overrides as ConfigOverrides)
      : makeConfig(preset, overrides as ConfigOverrides);
    const rounds = makeRoundConfig(config, roundOverrides as Partial<RoundConfig>);
    // The serving thread keeps a core of its own: training gets the others.
    const threads = parseThreads(values.threads as string | undefined, "serve");
    return { config, rounds, threads };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The bus a stream publishes on, and what it took to get it. */
export interface StreamBus {
  readonly bus: Bus;
  /** `url`: a given server; `managed`: a nats-server child; `memory`: the in-process bus. */
  readonly transport: "url" | "managed" | "memory";
  /** The server's URL (absent for `memory`). */
  readonly url?: string;
  /** Close the bus, then stop the managed server if there is one. */
  close(): Promise<void>;
}

/** Options of `openStreamBus`. */
export interface StreamBusOptions {
  /** A server to connect to; empty or absent: a managed one, else the in-process bus. */
  readonly url?: string;
  readonly auth?: NatsAuth;
  readonly name: string;
  /** A managed server keeps its JetStream data in `<stateDir>/nats`. */
  readonly stateDir: string;
  readonly log: (line: string) => void;
  /** Told the URL of a managed server once it accepts connections. */
  readonly announce?: (url: string) => void;
}

/**
 * Connect to `url`; without one, start a nats-server child on a free loopback port when the
 * binary is there; without that, use the in-process bus (and say so).
 */
export async function openStreamBus(options: StreamBusOptions): Promise<StreamBus> {
  const { url, name, stateDir, log } = options;
  if (url !== undefined && url !== "") {
    const auth = options.auth ?? {};
    log(`connecting to ${redactServers(url)} (${describeAuth(auth)})`);
    const bus = await NatsBus.connect({ servers: url, name, ...auth });
    return { bus, transport: "url", url, close: () => bus.close() };
  }
  if ((await findNatsServer()) !== null) {
    await Deno.mkdir(stateDir, { recursive: true });
    // A managed server requires a generated credential, kept in the state dir (0600).
    const auth = await managedCredentials(stateDir);
    const server: NatsServer = await startNatsServer({
      storeDir: join(stateDir, "nats"),
      auth,
    });
    try {
      await writeCredentials(stateDir, { ...auth, url: server.url });
    } catch (error) {
      await server.stop();
      throw error;
    }
    log(
      `started nats-server at ${server.url} (clients need the credential in ` +
        `${credentialsPath(stateDir)}); watch with: deno task events --nats-state ${stateDir} ` +
        `--name ${name}`,
    );
    options.announce?.(server.url);
    try {
      const bus = await NatsBus.connect({ servers: server.url, name, ...auth });
      return {
        bus,
        transport: "managed",
        url: server.url,
        close: async () => {
          try {
            await bus.close();
          } finally {
            await server.stop();
          }
        },
      };
    } catch (error) {
      await server.stop();
      throw error;
    }
  }
  log(
    "nats-server not found and no --nats given: running on the in-process bus, so no other " +
      "process sees the events (apt install nats-server, or pass --nats URL)",
  );
  const bus = MemoryBus.forPipeline(name);
  return { bus, transport: "memory", close: () => bus.close() };
}
