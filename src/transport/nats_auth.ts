/**
 * Where NATS credentials come from, and how a server address is shown. Credentials come from
 * flags, the environment (`NATS_CREDS`, `NATS_USER` + `NATS_PASS`, `NATS_TOKEN`) or a `.creds`
 * file, flags first; they are passed to the client and never printed. A URL may carry
 * `user:pass@` itself: it is shown only through `redactServers`.
 */

/** How to authenticate; at most one way is set. */
export interface NatsAuth {
  user?: string;
  pass?: string;
  token?: string;
  /** A `.creds` file (JWT + nkey seed). */
  credsFile?: string;
}

/** The credential flags of a task, as parsed (undefined when absent). */
export interface NatsAuthFlags {
  "nats-user"?: string;
  "nats-pass"?: string;
  "nats-token"?: string;
  "nats-creds"?: string;
}

/** Environment variables read, by field. */
export const NATS_AUTH_ENV = {
  user: "NATS_USER",
  pass: "NATS_PASS",
  token: "NATS_TOKEN",
  credsFile: "NATS_CREDS",
} as const;

/**
 * The credentials to use: each field from its flag, else its environment variable; empty values
 * count as absent.
 *
 * @throws {RangeError} when the result mixes ways (user/password, token, creds file), or has a
 *   password without a user or a user without a password. The message names the sources, never
 *   the values.
 */
export function natsAuth(
  flags: NatsAuthFlags,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): NatsAuth {
  const pick = (flag: keyof NatsAuthFlags, field: keyof NatsAuth) =>
    flags[flag] || env(NATS_AUTH_ENV[field]) || undefined;
  const auth: NatsAuth = {
    user: pick("nats-user", "user"),
    pass: pick("nats-pass", "pass"),
    token: pick("nats-token", "token"),
    credsFile: pick("nats-creds", "credsFile"),
  };
  const ways = [
    auth.user !== undefined || auth.pass !== undefined ? "user and password" : null,
    auth.token !== undefined ? "token" : null,
    auth.credsFile !== undefined ? "creds file" : null,
  ].filter((way) => way !== null);
  if (ways.length > 1) {
    throw new RangeError(
      `Cannot authenticate to NATS: give one of user and password, token or creds file, current ` +
        `value is ${ways.join(" + ")} (from --nats-* flags or NATS_* variables)`,
    );
  }
  if ((auth.user === undefined) !== (auth.pass === undefined)) {
    throw new RangeError(
      `Cannot authenticate to NATS: a user needs a password and a password a user, current ` +
        `value is ${auth.user === undefined ? "a password only" : "a user only"}`,
    );
  }
  return Object.fromEntries(Object.entries(auth).filter(([, v]) => v !== undefined)) as NatsAuth;
}

/**
 * A server list (`nats://a:4222,nats://u:p@b:4222`) fit for a log: any `user:pass@` or `token@`
 * part becomes `***@` (up to the last `@` before the path, so a stray `@` in a password does not
 * leak its end). Works on what is not a valid URL too.
 */
export function redactServers(servers: string | readonly string[]): string {
  const list = typeof servers === "string" ? servers.split(",") : servers;
  return list.map((server) => server.trim().replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/]*@/i, "$1***@"))
    .join(",");
}

/** A one-line description of `auth` for a log: the way, never the secret. */
export function describeAuth(auth: NatsAuth): string {
  if (auth.credsFile !== undefined) return `creds file ${auth.credsFile}`;
  if (auth.token !== undefined) return "token";
  if (auth.user !== undefined) return `user ${auth.user}`;
  return "no credentials";
}
