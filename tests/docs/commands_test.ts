/**
 * The README and the pages under docs/ keep working: every `deno task X` they show names a task
 * of deno.json, every repository path they name exists, and every relative link leads to a file.
 * Commands are not run (most train for minutes or start servers); what can go stale silently, the
 * names and paths, is what is checked.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Pages other branches add (docs/protocol.md, ...): linked before they land, checked once there. */
const PENDING_PAGES = new Set(["docs/protocol.md", "docs/threat-model-changes.md", "docs/gpu.md"]);

/** Top-level folders whose paths the pages name. */
const REPO_DIRS = ["src", "tasks", "tools", "pipelines", "tests", "fixtures", "docs", ".ci"];

const tasks = new Set(
  Object.keys(
    (JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))) as { tasks: object }).tasks,
  ),
);

/** README.md and docs/*.md, as [path relative to the root, text]. */
function pages(): [string, string][] {
  const docs = [...Deno.readDirSync(join(ROOT, "docs"))]
    .filter((entry) => entry.isFile && entry.name.endsWith(".md"))
    .map((entry) => `docs/${entry.name}`)
    .sort();
  return ["README.md", ...docs].map((page) => [page, Deno.readTextFileSync(join(ROOT, page))]);
}

/** The commands of a page's `sh` blocks, continuation lines joined, comments dropped. */
export function shellCommands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  return blocks.flatMap((block) =>
    block.replace(/\s*\\\n\s*/g, " ").split("\n")
      .map((line) => line.replace(/(^|\s)#.*$/, "").trim())
      .filter((line) => line !== "")
  );
}

/** Task names after `deno task` (or `npx -y deno@V task`) in `text`. */
export function taskNames(text: string): string[] {
  return [...text.matchAll(/\bdeno(?:@[\d.]+)? task ([a-z][\w-]*)/g)].map((m) => m[1]);
}

/** Words of `text` that name a repository path (no placeholders, variables or globs). */
export function repoPaths(text: string): string[] {
  const words = text.split(/[\s`'"(),;:|=]+/);
  return words
    .map((word) => word.replace(/[.]$/, ""))
    .filter((word) => REPO_DIRS.some((dir) => word.startsWith(`${dir}/`)))
    .filter((word) => !/[<>*${}[\]]/.test(word));
}

Deno.test("docs - every deno task the README and docs/ show exists in deno.json", () => {
  let seen = 0;
  for (const [page, text] of pages()) {
    for (const name of taskNames(text)) {
      seen++;
      assert.ok(tasks.has(name), `${page}: deno task ${name} is not a task of deno.json`);
    }
  }
  assert.ok(seen > 20, `only ${seen} task mentions found: is the parser still reading the pages?`);
});

Deno.test("docs - every repository path in their sh blocks and inline code exists", () => {
  let seen = 0;
  for (const [page, text] of pages()) {
    const inline = [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
    for (const path of [...shellCommands(text), ...inline].flatMap(repoPaths)) {
      seen++;
      assert.ok(existsSync(join(ROOT, path)), `${page}: ${path} does not exist`);
    }
  }
  assert.ok(seen > 30, `only ${seen} paths found`);
});

Deno.test("docs - every relative link leads to a file", () => {
  for (const [page, text] of pages()) {
    const dir = page.includes("/") ? page.slice(0, page.lastIndexOf("/")) : ".";
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const path = join(dir, target).replace(/^\.\//, "");
      if (PENDING_PAGES.has(path) && !existsSync(join(ROOT, path))) continue;
      assert.ok(existsSync(join(ROOT, path)), `${page}: link to ${target} leads nowhere`);
    }
  }
});

Deno.test("docs - the parsers read what the pages write", () => {
  const page =
    "```sh\ndeno task train --data fixtures/shapes \\\n  --out runs/x  # a comment\n```\n";
  assert.deepEqual(shellCommands(page), ["deno task train --data fixtures/shapes --out runs/x"]);
  assert.deepEqual(taskNames("npx -y deno@2.9.6 task stream --watch d; deno task eval"), [
    "stream",
    "eval",
  ]);
  assert.deepEqual(repoPaths("see `tools/soak.ts`, fixtures/shapes/labels.csv. scan.<p>.x"), [
    "tools/soak.ts",
    "fixtures/shapes/labels.csv",
  ]);
  assert.deepEqual(repoPaths("--state $STATE tasks/stream.ts src/<x>.ts"), ["tasks/stream.ts"]);
});
