/** Every forged message of the corpus is refused by its subject's reader (issue 13). */
import assert from "node:assert/strict";
import { classifyReplySchema } from "../../src/protocol/classify.ts";
import {
  assignmentSchema,
  clusterUpdateSchema,
  labelSchema,
  refusalSchema,
} from "../../src/protocol/events.ts";
import { forgedMessages } from "../../src/protocol/forged.ts";
import { announcementSchema } from "../../src/protocol/models.ts";
import { isProtocolError, parseJson } from "../../src/protocol/parse.ts";
import type { BusMessage } from "../../src/transport/bus.ts";
import {
  decodeEmbeddingMessage,
  decodeImageMessage,
  decodeNeighbourListMessage,
} from "../../src/transport/stage_messages.ts";
import { subjects } from "../../src/transport/subjects.ts";

Deno.test("forged messages: each is refused by the reader of its subject with a protocol error", () => {
  const s = subjects("forge");
  const readers: Record<string, (msg: BusMessage) => unknown> = {
    [s.images]: (m) => decodeImageMessage(m, { size: 32 }),
    [s.embeddings]: (m) => decodeEmbeddingMessage(m, { backbone: 64, projected: 128 }),
    [s.neighbours]: (m) => decodeNeighbourListMessage(m),
    [s.assignments]: (m) => parseJson(assignmentSchema(10), m.payload, "assignment"),
    [s.clusters]: (m) => parseJson(clusterUpdateSchema(10), m.payload, "update"),
    [s.labels]: (m) => parseJson(labelSchema(10), m.payload, "labels"),
    [s.errors]: (m) => parseJson(refusalSchema(), m.payload, "refusal"),
    [s.models]: (m) => parseJson(announcementSchema(), m.payload, "announcement"),
    [s.classify]: (m) => parseJson(classifyReplySchema(), m.payload, "reply"),
  };
  const forged = forgedMessages("forge", 64, 32);
  const covered = new Set(forged.map((f) => f.subject));
  assert.deepEqual([...covered].sort(), Object.values(s).sort(), "every subject has forgeries");
  for (const message of forged) {
    assert.throws(
      () => readers[message.subject](message),
      (error: unknown) => isProtocolError(error) && !(error as Error).message.includes("\n"),
      `${message.subject}: ${message.tries}`,
    );
  }
});
