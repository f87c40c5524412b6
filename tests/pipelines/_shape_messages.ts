/** The shapes fixtures as a stage receives them: image messages on a pipeline's images subject. */
import { type Dataset } from "../../src/data/dataset.ts";
import { loadDataset } from "../../src/data/load_dataset.ts";
import type { Bus } from "../../src/transport/bus.ts";
import { encodeImageMessage } from "../../src/transport/stage_messages.ts";

const SHAPES = new URL("../../fixtures/shapes", import.meta.url).pathname;

/** Publish the first `limit` shapes images at side `size` on `subject`; returns them. */
export async function publishShapeImages(
  bus: Bus,
  subject: string,
  size: number,
  limit: number,
): Promise<Dataset> {
  const data = await loadDataset(SHAPES, { size, limit });
  const stride = size * size * 3;
  for (let i = 0; i < data.n; i++) {
    const { payload, headers } = encodeImageMessage({
      id: data.ids[i],
      path: data.paths[i],
      pixels: data.pixels.slice(i * stride, (i + 1) * stride),
      size,
    });
    await bus.publish(subject, payload, { headers, msgId: `image:${data.ids[i]}` });
  }
  return data;
}
