/**
 * The background training of a stream (the in-process stream and the cluster stage): a round
 * whenever the trainer has something to learn, and between them a rest that new images end.
 */
import type { RoundReport, StreamTrainer } from "./trainer.ts";

/** A trainer's rounds until a signal aborts them. */
export interface TrainingLoop {
  /** End a rest: new images arrived. Harmless while a round runs. */
  wake(): void;
  /**
   * Run rounds until the signal aborts, handing each finished round to `onRound` before the
   * next starts; an aborted round is dropped.
   */
  run(onRound: (report: RoundReport) => Promise<void>): Promise<void>;
}

export function trainingLoop(trainer: StreamTrainer, signal: AbortSignal): TrainingLoop {
  let wake: (() => void) | undefined;
  return {
    wake: () => wake?.(),
    async run(onRound) {
      while (!signal.aborted) {
        // Resting, or too few images for a pair: wait for new images (or the end).
        if (trainer.resting || trainer.store.n < 2) {
          // One listener per rest, removed when the rest ends: a long stream rests often.
          let ended!: () => void;
          await new Promise<void>((resolve) => {
            ended = resolve;
            wake = resolve;
            signal.addEventListener("abort", ended, { once: true });
          });
          signal.removeEventListener("abort", ended);
          wake = undefined;
          continue;
        }
        const report = await trainer.round(signal);
        if (report === null) continue;
        await onRound(report);
      }
    },
  };
}
