/**
 * What a reader does with a message that fails its schema: one log line (escaped) and one
 * `errors` event naming the subject and the reason, then it goes on. A refusal of a message on
 * the `errors` subject itself is only logged, so a malformed refusal cannot start a loop. The
 * event's message id is a hash of the message, so a replay within the duplicate window stores it
 * once.
 */
import { sha256Hex } from "../image/hash.ts";
import { type Bus, type BusMessage, JSON_HEADERS } from "../transport/bus.ts";
import { subjects } from "../transport/subjects.ts";
import { printable } from "../util/quote.ts";
import { refusalSchema } from "./events.ts";
import { MAX_PATH_LENGTH, MAX_TEXT_LENGTH } from "./fields.ts";
import { parse } from "./parse.ts";

/** Who refuses: the pipeline, the bus to report on, the log. */
export interface Refuser {
  readonly bus: Bus;
  readonly name: string;
  readonly log: (line: string) => void;
  /** The stage refusing (in the log line and the event). */
  readonly stage: string;
}

/** A message's identity for the refusal's message id. */
async function digestOf(msg: BusMessage): Promise<string> {
  const head = new TextEncoder().encode(msg.subject + "\n" + JSON.stringify(msg.headers) + "\n");
  const bytes = new Uint8Array(head.length + msg.payload.byteLength);
  bytes.set(head);
  bytes.set(msg.payload, head.length);
  return (await sha256Hex(bytes)).slice(0, 32);
}

/**
 * Log and report `msg` as refused for `error`. Never throws: a failed report is logged.
 */
export async function refuseMessage(
  refuser: Refuser,
  msg: BusMessage,
  error: unknown,
): Promise<void> {
  const reason = printable(error instanceof Error ? error.message : String(error));
  refuser.log(`${refuser.stage}: refused a message on ${printable(msg.subject)}: ${reason}`);
  const s = subjects(refuser.name);
  if (msg.subject === s.errors) return;
  try {
    const event = parse(
      refusalSchema(),
      {
        path: `${msg.subject} (message)`.slice(0, MAX_PATH_LENGTH),
        reason: `${refuser.stage}: ${reason}`.slice(0, MAX_TEXT_LENGTH),
      },
      "refusal event",
      "create",
    );
    await refuser.bus.publish(s.errors, new TextEncoder().encode(JSON.stringify(event)), {
      headers: JSON_HEADERS,
      msgId: `invalid:${refuser.stage}:${await digestOf(msg)}`,
    });
  } catch (failure) {
    refuser.log(
      `${refuser.stage}: could not report the refused message: ` +
        printable((failure as Error).message),
    );
  }
}
