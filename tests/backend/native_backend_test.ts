/**
 * `--backend tensorflow` finds the native package on disk before loading anything, and reports a
 * missing one in a single line that gives the install command, on the main thread or in a Worker.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureBackendAvailable } from "../../src/backend/backend.ts";
import {
  ensureNativeInstalled,
  findNativeAddon,
  NATIVE_INSTALL_COMMAND,
  NATIVE_PACKAGES,
  projectRoot,
} from "../../src/backend/native.ts";

const installedHere = NATIVE_PACKAGES.some((pkg) =>
  typeof findNativeAddon(projectRoot(), pkg) !== "string"
);

/** A temporary project root with a fake tfjs-node: its package.json and the given addons. */
async function fakeRoot(addons: string[], main = ""): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "scanstream_native_" });
  const dir = join(root, "node_modules", "@tensorflow", "tfjs-node");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "package.json"), JSON.stringify({ name: "x", main: "i.js" }));
  await Deno.writeTextFile(join(dir, "i.js"), main);
  for (const addon of addons) {
    await Deno.mkdir(join(dir, "lib", addon), { recursive: true });
    await Deno.writeTextFile(join(dir, "lib", addon, "tfjs_binding.node"), "not an ELF file");
  }
  return root;
}

async function messageOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected a rejection, got a value");
}

Deno.test("findNativeAddon() - absent, installed without addon, or the highest napi-v addon", async () => {
  const empty = await Deno.makeTempDir({ prefix: "scanstream_native_" });
  const bare = await fakeRoot([]);
  const built = await fakeRoot(["napi-v3", "napi-v10", "napi-v8"]);
  try {
    assert.equal(findNativeAddon(empty, "@tensorflow/tfjs-node"), "absent");
    assert.equal(findNativeAddon(bare, "@tensorflow/tfjs-node"), "no-addon");
    const found = findNativeAddon(built, "@tensorflow/tfjs-node");
    assert.ok(typeof found !== "string");
    assert.equal(
      found.addon,
      join(built, "node_modules/@tensorflow/tfjs-node/lib/napi-v10/tfjs_binding.node"),
    );
  } finally {
    for (const root of [empty, bare, built]) await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ensureNativeInstalled() - one line naming what is missing and the install command", async () => {
  const empty = await Deno.makeTempDir({ prefix: "scanstream_native_" });
  const bare = await fakeRoot([]);
  try {
    const absent = await messageOf(ensureNativeInstalled(empty));
    assert.ok(!absent.includes("\n"), absent);
    assert.match(
      absent,
      /neither @tensorflow\/tfjs-node-gpu@4\.22\.0 nor @tensorflow\/tfjs-node@4\.22\.0 is installed/,
    );
    assert.ok(absent.includes(`\`${NATIVE_INSTALL_COMMAND}\``), absent);
    const unfinished = await messageOf(ensureNativeInstalled(bare));
    assert.match(
      unfinished,
      /tfjs-node@4\.22\.0 has no lib\/napi-v\*\/tfjs_binding\.node \(its install script did not finish\)/,
    );
    assert.ok(unfinished.includes(`\`${NATIVE_INSTALL_COMMAND}\``), unfinished);
  } finally {
    for (const root of [empty, bare]) await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ensureNativeInstalled() - an installed addon without --allow-ffi says which flag", async () => {
  // `deno task test` grants no ffi, so this process stands for a task run without the flag.
  const root = await fakeRoot(["napi-v8"]);
  try {
    assert.notEqual((await Deno.permissions.query({ name: "ffi" })).state, "granted");
    const message = await messageOf(ensureNativeInstalled(root));
    assert.match(
      message,
      /tfjs-node@4\.22\.0 is installed but loading its addon .* needs --allow-ffi/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadNative() - an addon that does not load is reported with the loader's reason", async () => {
  const root = await fakeRoot(["napi-v8"], "require('./lib/napi-v8/tfjs_binding.node');");
  try {
    const native = new URL("../../src/backend/native.ts", import.meta.url).href;
    const script = join(root, "load.ts");
    await Deno.writeTextFile(
      script,
      `import { loadNative } from ${JSON.stringify(native)};\n` +
        `await loadNative(${JSON.stringify(root)}).catch((e) => console.log(e.message));\n`,
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--allow-read", "--allow-env", `--allow-ffi=${root}`, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(
      text,
      /^Cannot select backend tensorflow: @tensorflow\/tfjs-node@4\.22\.0 is installed but failed to load: .*tfjs_binding\.node/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** What `initBackend(name)` gives inside a Worker. */
function inWorker(name: string): Promise<{ backend?: string; error?: string }> {
  const worker = new Worker(new URL("./_backend_worker.ts", import.meta.url), { type: "module" });
  return new Promise((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`worker failed: ${event.message}`));
    };
    worker.postMessage(name);
  });
}

Deno.test("initBackend() in a Worker - wasm works there", async () => {
  assert.deepEqual(await inWorker("wasm"), { backend: "wasm" });
});

Deno.test({
  name: "initBackend() in a Worker - tensorflow missing: the main thread's message, no crash",
  ignore: installedHere,
  async fn() {
    const main = await messageOf(ensureBackendAvailable("tensorflow"));
    assert.deepEqual(await inWorker("tensorflow"), { error: main });
  },
});
