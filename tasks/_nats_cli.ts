/**
 * What every task that talks to NATS shares: the `--nats` and credential flags, and a connection
 * that logs its server with any `user:pass@` redacted, so that no task prints a secret.
 */
import { NatsBus } from "../src/transport/nats_bus.ts";
import {
  describeAuth,
  type NatsAuth,
  natsAuth,
  type NatsAuthFlags,
  redactServers,
} from "../src/transport/nats_auth.ts";
import { credentialsPath, readCredentials } from "../src/transport/managed_credentials.ts";
import { logLine } from "../src/util/progress.ts";
import { UsageError } from "./_cli.ts";

/** `parseArgs` options of the server and its credentials. */
export const NATS_FLAGS = {
  nats: { type: "string" },
  "nats-creds": { type: "string" },
  "nats-user": { type: "string" },
  "nats-pass": { type: "string" },
  "nats-token": { type: "string" },
  "nats-state": { type: "string" },
} as const;

/** The help lines of `NATS_FLAGS`' credentials. */
export const NATS_CREDENTIALS_USAGE =
  `  NATS credentials: flags, else $NATS_CREDS, $NATS_USER + $NATS_PASS or $NATS_TOKEN (prefer
       these or a creds file: a command line is visible to other users); never printed.
  --nats-state STATE: the state dir of a stream that started its own nats-server: its URL and
       generated credential are read from STATE/nats-credentials.json (mode 0600).`;

/** NATS credentials from the `--nats-*` flags and `NATS_*` variables; a conflict is a usage error. */
export function natsAuthOrUsage(flags: NatsAuthFlags): NatsAuth {
  try {
    return natsAuth(flags);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `--nats`, else `$NATS_URL`, else a server on this machine's default port (empty counts as unset). */
export function natsUrlOrLocal(flag: string | undefined): string {
  return flag || Deno.env.get("NATS_URL") || "nats://127.0.0.1:4222";
}

/**
 * Connect to `url` as pipeline `name` with the credentials of `flags` (or the `NATS_*`
 * variables), after logging `<prefix>connecting to <url, redacted> (<which credentials>)`.
 */
export async function connectNats(
  url: string,
  name: string,
  flags: NatsAuthFlags & { "nats-state"?: string },
  prefix = "",
): Promise<NatsBus> {
  let auth = natsAuthOrUsage(flags);
  const stateDir = flags["nats-state"];
  if (stateDir !== undefined) {
    // The managed server's URL and credential, from its stream's state directory.
    let managed;
    try {
      managed = await readCredentials(stateDir);
    } catch (error) {
      throw new UsageError(
        `--nats-state: cannot read ${credentialsPath(stateDir)}: ${(error as Error).message}`,
      );
    }
    auth = { user: managed.user, pass: managed.pass };
    url = managed.url ?? url;
  }
  logLine(`${prefix}connecting to ${redactServers(url)} (${describeAuth(auth)})`);
  return await NatsBus.connect({ servers: url, name, ...auth });
}
