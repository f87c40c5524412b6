/**
 * A Worker that selects the backend named in its first message, as a training worker does with
 * the name in its init message, and answers with the backend tfjs reports or the error message.
 */
/// <reference lib="deno.worker" />
import { type BackendName, initBackend } from "../../src/backend/backend.ts";

self.onmessage = async (event: MessageEvent<BackendName>) => {
  try {
    self.postMessage({ backend: await initBackend(event.data) });
  } catch (error) {
    self.postMessage({ error: (error as Error).message });
  }
  self.close();
};
