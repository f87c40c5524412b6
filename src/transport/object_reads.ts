/**
 * Reads from a JetStream Object Store that cannot wait forever. The client's `list()` and
 * `getBlob()` read through push consumers and wait for a last message that, now and then, never
 * comes (the same stall is reported against other NATS clients' object stores): an embed worker
 * waiting on one neither served a newer checkpoint nor stopped when told to. Here a list that
 * takes longer than `stallMs`, or a download that receives nothing for `stallMs`, fails with an
 * error the caller logs and retries (a download still receiving goes on however long it takes).
 */
import type { ObjectInfo, ObjectStore } from "@nats-io/obj";
import { concatBytes } from "../util/concat.ts";
import { withDeadline } from "../util/deadline.ts";

/** Default of `stallMs`. */
export const OBJECT_STALL_MS = 30_000;

/** The objects in `store` (deleted ones left out). */
export function listObjects(
  store: Pick<ObjectStore, "list">,
  stallMs = OBJECT_STALL_MS,
): Promise<ObjectInfo[]> {
  return withDeadline(store.list(), stallMs, "listing the object store");
}

/** The bytes of object `name`, or null when there is none; checked against its digest. */
export async function readObject(
  store: Pick<ObjectStore, "get">,
  name: string,
  stallMs = OBJECT_STALL_MS,
): Promise<Uint8Array | null> {
  const what = `reading object ${name}`;
  const result = await withDeadline(store.get(name), stallMs, what);
  if (result === null) return null;
  const reader = result.data.getReader();
  const chunks: Uint8Array[] = [];
  try {
    for (;;) {
      const { done, value } = await withDeadline(reader.read(), stallMs, what);
      if (done) break;
      if (value !== undefined && value.length > 0) chunks.push(value);
    }
  } catch (error) {
    // Stops the client's consumer behind the stream.
    await reader.cancel().catch(() => {});
    throw error;
  }
  // The digest check: the client errors the stream on a mismatch, and reports it here too.
  const failure = await withDeadline(result.error, stallMs, what);
  if (failure) throw failure;
  return concatBytes(chunks);
}
