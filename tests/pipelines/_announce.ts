/** A checkpoint announced in the state bucket, as the cluster stage writes it, for worker tests. */
import { MODEL_KEY } from "../../pipelines/workers/embed_worker.ts";
import { PipelineState } from "../../src/transport/pipeline_state.ts";

/** Announce checkpoint `checkpoint` in the state bucket, as the cluster stage does. */
export async function announce(state: PipelineState, checkpoint: number): Promise<void> {
  await PipelineState.write(state.state, MODEL_KEY, {
    checkpoint,
    prefix: String(checkpoint),
    modelVersion: 0,
    head: 0,
    permutation: [],
    at: new Date().toISOString(),
  });
}
