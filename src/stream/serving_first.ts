/**
 * Serving before training. A training step holds the event loop for up to seconds (a SimCLR step
 * at batch 256 is about 1.7 s here), and an image needs several event-loop turns between its file
 * and its assignment (watch event, read, decode reply, batch timer, publish). Yielding one turn
 * between steps let a step pass between each of those hops, so an image waited several steps and
 * the stream assigned a few images a second. The trainer awaits `gate()` between steps instead: it
 * opens once no image is between ingestion and its assignment and none arrived for `quietMs`, or
 * after as long as the step before it took (at most `maxWaitMs`): under a steady stream training
 * keeps half the main thread, and a cheap step (a head-only SCAN step) waits as little as it costs.
 */

/** Options of `servingFirst`. */
export interface ServingFirstOptions {
  /** How long no image must have arrived before a step may start. Default 50 ms. */
  readonly quietMs: number;
  /** The longest a step waits for serving, whatever the step before it took. Default 2000 ms. */
  readonly maxWaitMs: number;
}

/** The serving side's count of images in flight, and the trainer's gate on it. */
export interface ServingFirst {
  /** An image (or refusal) came out of ingestion. */
  arrived(images: number): void;
  /** Images reached their assignment (or their batch was handled). */
  served(images: number): void;
  /** Images between ingestion and their assignment now. */
  readonly inFlight: number;
  /** Resolves when a training step may start. */
  gate(): Promise<void>;
}

export function servingFirst(options: Partial<ServingFirstOptions> = {}): ServingFirst {
  const { quietMs, maxWaitMs } = { quietMs: 50, maxWaitMs: 2000, ...options };
  let inFlight = 0;
  let lastArrival = -Infinity;
  /** When the gate last opened: the step since then is what the next wait may match. */
  let lastOpened: number | undefined;
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  return {
    arrived(images) {
      inFlight += images;
      lastArrival = performance.now();
    },
    served(images) {
      inFlight = Math.max(0, inFlight - images);
    },
    get inFlight() {
      return inFlight;
    },
    async gate() {
      const start = performance.now();
      const limit = Math.min(maxWaitMs, lastOpened === undefined ? maxWaitMs : start - lastOpened);
      // Always one turn, as before: timers and signals are served between steps.
      await sleep(0);
      while (
        (inFlight > 0 || performance.now() - lastArrival < quietMs) &&
        performance.now() - start < limit
      ) {
        await sleep(Math.max(1, quietMs / 5));
      }
      lastOpened = performance.now();
    },
  };
}
