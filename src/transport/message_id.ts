/**
 * Message ids built from user data. A JetStream message id travels as a header (`Nats-Msg-Id`),
 * and NATS refuses header values holding CR or LF: a file named `evil\nname.png` made the
 * refusal's publish fail forever. Ids that would hold user text hold its SHA-256 instead: one
 * line of 64 hex digits, the same for the same text, so deduplication still works.
 */
import { createHash } from "node:crypto";

/** `<kind>:<SHA-256 of text, hex>`: a message id naming `text` whatever characters it holds. */
export function hashedMessageId(kind: string, text: string): string {
  return `${kind}:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}
