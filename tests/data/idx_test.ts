import assert from "node:assert/strict";
import { idxPrefix, parseIdx, readIdx } from "../../src/data/idx.ts";

function idxFile(dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  return new Uint8Array([...header, ...data]);
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const images = Uint8Array.from({ length: 3 * 4 * 5 }, (_, i) => i);
const labels = new Uint8Array([7, 0, 9]);

Deno.test("readIdx() reads plain and gzipped IDX pairs, with the test alias and idx: scheme", async () => {
  const dir = await Deno.makeTempDir({ prefix: "scanstream_idx_" });
  try {
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, idxFile([3, 4, 5], images));
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idxFile([3], labels));
    await Deno.writeFile(
      `${dir}/t10k-images-idx3-ubyte.gz`,
      await gzip(idxFile([3, 4, 5], images)),
    );
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte.gz`, await gzip(idxFile([3], labels)));
    for (const source of [`${dir}/train`, `${dir}/t10k`, `idx:${dir}/test`]) {
      const set = await readIdx(source);
      assert.equal(set.n, 3);
      assert.equal(set.rows, 4);
      assert.equal(set.cols, 5);
      assert.deepEqual(set.images, images);
      assert.deepEqual(set.labels, labels);
    }
    await assert.rejects(() => readIdx(`${dir}/valid`), Deno.errors.NotFound);
    await Deno.writeFile(`${dir}/short-images-idx3-ubyte`, idxFile([3, 4, 5], images));
    await Deno.writeFile(`${dir}/short-labels-idx1-ubyte`, idxFile([2], labels.subarray(0, 2)));
    await assert.rejects(() => readIdx(`${dir}/short`), /3 images but 2 labels/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseIdx() rejects bad magic, rank and length", () => {
  assert.throws(
    () => parseIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 0]), "f", 1),
    /not an unsigned-byte IDX/,
  );
  assert.throws(
    () => parseIdx(idxFile([2, 2], new Uint8Array(4)), "f", 3),
    /expected 3 dimensions/,
  );
  assert.throws(
    () => parseIdx(idxFile([3], new Uint8Array(2)), "f", 1),
    /need 3 bytes of data, current length is 2/,
  );
});

Deno.test("idxPrefix() strips idx: and maps test to t10k", () => {
  assert.equal(idxPrefix("idx:/d/fashion-mnist/test"), "/d/fashion-mnist/t10k");
  assert.equal(idxPrefix("/d/fashion-mnist/train"), "/d/fashion-mnist/train");
  assert.equal(idxPrefix("test"), "t10k");
  assert.equal(idxPrefix("/d/latest"), "/d/latest");
});
