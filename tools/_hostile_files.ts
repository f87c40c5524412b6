/**
 * For `deno task soak --hostile`: the files a hostile user drops into a watched directory, as
 * the tests of issue 13 build them (tests/pipelines/stream_hostile_names_test.ts,
 * tests/image/jpeg_resync_test.ts, tests/ingest/bad_input_test.ts): names with LF and CR, a name
 * that is not UTF-8 (the bytes ff fe), a text file named .png, a truncated PNG, a decompression
 * bomb, a JPEG whose checked header says 8x8 while the decoder would read 16000x16000, and a
 * FIFO. Each must become at most one `errors` event and cost the stream nothing else.
 */
import { join } from "node:path";
import { encodeJpeg } from "./encode_jpeg.ts";

const BAD = new URL("../fixtures/bad/", import.meta.url).pathname;

/** The first offset of marker FF `marker` in `bytes`. */
function findMarker(bytes: Uint8Array, marker: number): number {
  for (let i = 2; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === marker) return i;
  }
  throw new Error(`Cannot craft the JPEG: no marker FF ${marker.toString(16)} in the real one`);
}

/**
 * A real 8x8 JPEG whose frame header declares `side` x `side`, hidden behind `FF 00` and a
 * "length" spanning the whole real image, with a decoy 8x8 frame header after it (finding 2;
 * tests/image/jpeg_resync_test.ts tests the header check with it).
 */
export function lyingJpeg(side: number): Uint8Array {
  const real = encodeJpeg({
    width: 8,
    height: 8,
    channels: 3,
    samples: new Uint8Array(8 * 8 * 3).fill(128),
  });
  const sof = findMarker(real, 0xc0);
  real[sof + 5] = side >> 8;
  real[sof + 6] = side & 0xff;
  real[sof + 7] = side >> 8;
  real[sof + 8] = side & 0xff;
  const body = real.subarray(2);
  const decoy = [0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00];
  const length = body.length + 2;
  if ((length >> 8) === 0xff || (length & 0xff) === 0xff) {
    throw new Error(`Cannot craft the JPEG: its length ${length} would read as a marker`);
  }
  return new Uint8Array([0xff, 0xd8, 0xff, 0x00, length >> 8, length & 0xff, ...body, ...decoy]);
}

/**
 * Write the hostile files into `dir` (`round` keeps the names of later calls apart); returns
 * how many were made. The name that is not UTF-8 is written by /bin/sh (Deno takes names as
 * strings); the FIFO by mkfifo.
 */
export async function writeHostileFiles(dir: string, round: number): Promise<number> {
  const text = new TextEncoder().encode("not an image\n");
  const files: [string, Uint8Array][] = [
    [`evil_${round}\nname.png`, text],
    [`evil_${round}\rname.png`, text],
    [`text_${round}.png`, await Deno.readFile(join(BAD, "text.png"))],
    [`truncated_${round}.png`, await Deno.readFile(join(BAD, "truncated.png"))],
    [`bomb_${round}.png`, await Deno.readFile(join(BAD, "bomb_20000x20000.png"))],
    [`liar_${round}.jpg`, lyingJpeg(16000)],
  ];
  for (const [name, bytes] of files) await Deno.writeFile(join(dir, name), bytes);
  const made = await new Deno.Command("/bin/sh", {
    args: ["-c", `printf 'text\\n' > "$(printf '\\377\\376')_${round}.png"`],
    cwd: dir,
  }).output();
  if (made.code !== 0) {
    throw new Error(`Cannot write the file named ff fe: /bin/sh exited with ${made.code}`);
  }
  const fifo = await new Deno.Command("mkfifo", { args: [join(dir, `hostile_${round}.fifo`)] })
    .output();
  if (fifo.code !== 0) {
    throw new Error(`Cannot make the FIFO: mkfifo exited with ${fifo.code}`);
  }
  return files.length + 2;
}
