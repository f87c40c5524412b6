/**
 * The credential of a managed nats-server (finding 11 of issue 13): without one, any local user
 * could publish forged events or purge the stream. The stream generates a user and a random
 * password once, keeps them with the server's URL in `<state>/nats-credentials.json` (mode
 * 0600, so only the owner reads it), starts the server requiring them, and prints neither.
 * Other processes of the same user (`deno task events|board|worker|status --nats-state STATE`)
 * read the file for the URL and the credential.
 */
import { join } from "node:path";
import * as v from "valibot";
import { parseJson } from "../protocol/parse.ts";

/** The file name inside a stream's state directory. */
export const CREDENTIALS_FILE = "nats-credentials.json";

const credentialsSchema = () =>
  v.object({
    url: v.optional(v.pipe(v.string(), v.regex(/^nats:\/\/127\.0\.0\.1:[0-9]{1,5}$/))),
    user: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/)),
    pass: v.pipe(v.string(), v.regex(/^[0-9a-f]{32,128}$/)),
  }, "an object");
export type ManagedCredentials = v.InferOutput<ReturnType<typeof credentialsSchema>>;

/** Where the credentials of the stream with state `stateDir` are. */
export function credentialsPath(stateDir: string): string {
  return join(stateDir, CREDENTIALS_FILE);
}

/**
 * The credentials in `stateDir`.
 *
 * @throws {Deno.errors.NotFound} when there are none; a ProtocolError when the file is malformed.
 */
export async function readCredentials(stateDir: string): Promise<ManagedCredentials> {
  const path = credentialsPath(stateDir);
  return parseJson(credentialsSchema(), await Deno.readTextFile(path), path);
}

/** The credentials kept in `stateDir`, made (random password) when absent or malformed. */
export async function managedCredentials(stateDir: string): Promise<ManagedCredentials> {
  try {
    const known = await readCredentials(stateDir);
    return { user: known.user, pass: known.pass };
  } catch {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    const pass = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return { user: "scanstream", pass };
  }
}

/** Keep `credentials` (with the server's current URL) in `stateDir`, readable by the owner only. */
export async function writeCredentials(
  stateDir: string,
  credentials: ManagedCredentials,
): Promise<void> {
  const path = credentialsPath(stateDir);
  const temp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  // Created 0600 (and set again, whatever the umask) before the secret is in it.
  await Deno.writeTextFile(temp, "", { mode: 0o600 });
  await Deno.chmod(temp, 0o600);
  await Deno.writeTextFile(temp, JSON.stringify(credentials, null, 2) + "\n");
  await Deno.rename(temp, path);
}
