/**
 * Serving before training. A training step holds the event loop for up to seconds (a SimCLR step
 * at batch 256 is about 1.7 s here), and an image needs several event-loop turns between its file
 * and its assignment (watch event, read, decode reply, batch timer, publish). Yielding one turn
 * between steps let a step pass between each of those hops, so an image waited several steps and
 * the stream assigned a few images a second. The trainer awaits `gate()` between steps instead: it
 * opens once no image is between ingestion and its assignment and none arrived for `quietMs`, or
 * after `maxWaitMs` at the latest, so training still gets a step in under a steady stream.
 */

/** Options of `servingFirst`. */
export interface ServingFirstOptions {
  /** How long no image must have arrived before a step may start. Default 50 ms. */
  readonly quietMs: number;
  /** The longest a step waits for serving; bounds how far training can starve. Default 2000 ms. */
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
      // Always one turn, as before: timers and signals are served between steps.
      await sleep(0);
      while (
        (inFlight > 0 || performance.now() - lastArrival < quietMs) &&
        performance.now() - start < maxWaitMs
      ) {
        await sleep(Math.max(1, quietMs / 5));
      }
    },
  };
}
