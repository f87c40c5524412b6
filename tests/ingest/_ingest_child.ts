/**
 * Runs `ingest()` over a directory in a process of its own and prints each result as a JSON
 * line, until `count` results: for tests that need the process to differ from the test runner's,
 * such as one without the capability that lets root read any file.
 *
 * usage: deno run --allow-read --allow-env --allow-sys _ingest_child.ts DIR COUNT
 */
import { take } from "rxjs";
import { ingest, isIngestRefusal } from "../../src/ingest/ingest.ts";

const [dir, count] = Deno.args;
ingest(dir, { size: 8, stableMs: 0, rescanIntervalMs: 0 }).pipe(take(Number(count))).subscribe({
  next: (value) =>
    console.log(JSON.stringify(
      isIngestRefusal(value) ? value : { path: value.path, id: value.id },
    )),
  error: (error) => {
    console.error(String(error));
    Deno.exit(1);
  },
});
