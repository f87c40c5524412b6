/**
 * Symbolic links are followed only while they stay inside the watched tree: a link to
 * `/etc/shadow` or to another user's folder dropped into the inbox is refused, not read.
 *
 * This check alone leaves a race: a folder on the path swapped for a link between it and the
 * open. The reader closes it by checking what it opened (`loadImageFile` with `root`).
 */

/** Where a path really leads, or why it is refused. */
export type InsideResult = { ok: true; real: string } | { ok: false; reason: string };

/**
 * Resolve `path` (links included) and check that it lies inside `root`.
 *
 * @param root the watched directory, already resolved with `Deno.realPath`.
 */
export async function resolveInside(root: string, path: string): Promise<InsideResult> {
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return {
        ok: false,
        reason: "file not found (it was moved or deleted, or it is a broken link)",
      };
    }
    return { ok: false, reason: `cannot resolve path: ${(error as Error).message}` };
  }
  const prefix = root.endsWith("/") ? root : `${root}/`;
  if (!real.startsWith(prefix)) {
    return {
      ok: false,
      reason: "symbolic link leading outside the watched directory: links are followed only " +
        "inside it",
    };
  }
  return { ok: true, real };
}
