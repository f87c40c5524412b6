/**
 * What every stage worker of a distributed pipeline shares: its bus, the pipeline's state in
 * NATS (KV buckets, Object Store), its identity for heartbeats, and a stop signal. The settings
 * that shape images and networks are the cluster stage's: it writes them to the state bucket
 * (`config`) and the other stages wait for them, so no two processes can disagree on them.
 */
import type { ScanConfig } from "../../src/config.ts";
import type { NatsBus } from "../../src/transport/nats_bus.ts";
import { sharedConfig } from "../../src/protocol/kv.ts";
import { PipelineState } from "../../src/transport/pipeline_state.ts";
import { printable } from "../../src/util/quote.ts";

/** The stages a worker can run. */
export const STAGES = ["ingest", "embed", "mine", "cluster"] as const;
export type Stage = typeof STAGES[number];

/** A worker's connection to its pipeline. */
export interface WorkerContext {
  readonly bus: NatsBus;
  readonly state: PipelineState;
  /** Pipeline name: subjects `scan.<name>.*`. */
  readonly name: string;
  /** This worker's id in heartbeats and on the features it computes. */
  readonly id: string;
  /** Aborted to stop the worker: it finishes what it holds and returns. */
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

/** State-bucket key of the shared config. */
export const CONFIG_KEY = "config";

/** Publish the config every stage must use (the cluster stage does, at start). */
export async function shareConfig(state: PipelineState, config: ScanConfig): Promise<void> {
  await PipelineState.write(state.state, CONFIG_KEY, config);
}

/**
 * The config the cluster stage shared, waiting for it (a worker may start first).
 *
 * @returns undefined when `signal` aborted before it came.
 */
export async function waitForConfig(ctx: WorkerContext): Promise<ScanConfig | undefined> {
  let logged = false;
  while (!ctx.signal.aborted) {
    let config: ScanConfig | undefined;
    let why = `waiting for the cluster stage of ${ctx.name} to share its config`;
    try {
      config = await PipelineState.read(ctx.state.state, CONFIG_KEY, sharedConfig());
    } catch (error) {
      // A malformed config is waited out like a missing one: the cluster stage rewrites it.
      why = `the shared config is malformed, waiting for a valid one: ${
        printable((error as Error).message)
      }`;
    }
    if (config !== undefined) return config;
    if (!logged) {
      ctx.log(why);
      logged = true;
    }
    await sleep(500, ctx.signal);
  }
  return undefined;
}

/** Sleep that `signal` cuts short. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The current time as events carry it. */
export function now(): string {
  return new Date().toISOString();
}
