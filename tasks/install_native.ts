/**
 * `deno task install-native [--gpu|--cpu] [--dir DIR]`: install the native TensorFlow backend
 * (tfjs-node-gpu, or tfjs-node with `--cpu`) into the project's node_modules, running the
 * package's install script, which downloads libtensorflow and the tfjs_binding addon. Deno runs
 * no npm lifecycle script unless named in `--allow-scripts`, so a plain install (or `npm
 * install` advice) leaves a package that cannot load.
 *
 * It runs `deno install --no-save --no-lock --allow-scripts=npm:PKG npm:PKG`: nothing is added
 * to deno.json or deno.lock, so the default path and CI never fetch the package. A later plain
 * `deno install` removes it again; run this task after one.
 *
 * The install script's download hosts come from the environment: TFJS_NODE_CDN_STORAGE (or
 * TFJS_NODE_BASE_URI) for libtensorflow, npm_config_tfjs_binding_binary_host_mirror for the
 * addon (node-pre-gyp), both as the package reads them. After the install, this task checks the
 * files on disk and names the one that is missing.
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { runTask, UsageError } from "./_cli.ts";
import {
  denoInstallArgs,
  findNativeAddon,
  NATIVE_VERSION,
  type NativePackage,
  nativePackageDir,
  projectRoot,
} from "../src/backend/native.ts";
import { logLine } from "../src/util/progress.ts";

const USAGE = `usage: deno task install-native [--gpu|--cpu] [--dir DIR]
  --gpu: @tensorflow/tfjs-node-gpu@${NATIVE_VERSION} (default; Linux x86_64 with CUDA, see docs/gpu.md)
  --cpu: @tensorflow/tfjs-node@${NATIVE_VERSION} (native TensorFlow on the CPU)
  DIR:   the project to install into (default: this checkout); it needs a deno.json`;

/** The version of libtensorflow both packages' install script downloads. */
const LIBTENSORFLOW_VERSION = "2.9.1";

await runTask(USAGE, async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      gpu: { type: "boolean", default: false },
      cpu: { type: "boolean", default: false },
      dir: { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.gpu && values.cpu) throw new UsageError("--gpu and --cpu exclude each other");
  const pkg: NativePackage = values.cpu ? "@tensorflow/tfjs-node" : "@tensorflow/tfjs-node-gpu";
  const root = values.dir === undefined ? projectRoot() : resolve(values.dir);
  try {
    Deno.statSync(join(root, "deno.json"));
  } catch {
    throw new UsageError(`--dir must hold a deno.json, current value is ${root}`);
  }

  rearmInstallScript(root, pkg);
  const args = denoInstallArgs(pkg);
  logLine(`install-native: in ${root}: deno ${args.join(" ")}`);
  // By name, as --allow-run=deno grants it (Deno.execPath() may be the link's target).
  const { code } = await new Deno.Command("deno", {
    args,
    cwd: root,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();

  const install = findNativeAddon(root, pkg);
  if (typeof install !== "string") {
    logLine(
      `install-native: ${pkg}@${NATIVE_VERSION} installed, addon ${install.addon}. ` +
        `Check it with: deno task bench --backend tensorflow`,
    );
    return;
  }
  throw new Error(`install-native: ${missing(root, pkg, install)} (deno install exited ${code})`);
});

/**
 * Deno marks a package's scripts as run (`.scripts-run`) even when the script failed, and then
 * skips it on every later install: a retry after fixing the network would succeed without
 * installing anything. Clear the mark while the addon is missing, so the script runs again.
 */
function rearmInstallScript(root: string, pkg: NativePackage): void {
  if (typeof findNativeAddon(root, pkg) !== "string") return;
  const mark = join(
    root,
    "node_modules",
    ".deno",
    `${pkg.replace("/", "+")}@${NATIVE_VERSION}`,
    ".scripts-run",
  );
  try {
    Deno.removeSync(mark);
    logLine(`install-native: removed ${mark} left by an earlier failed install, to run it again`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** What the failed install left missing, and where the install script looked for it. */
function missing(root: string, pkg: NativePackage, state: "absent" | "no-addon"): string {
  const dir = nativePackageDir(root, pkg);
  if (state === "absent") {
    return `${pkg}@${NATIVE_VERSION} is not in ${join(root, "node_modules")} (the npm registry ` +
      `was not reached, or Deno refused the package)`;
  }
  const variant = pkg.endsWith("-gpu") ? "gpu" : "cpu";
  const libDir = join(dir, "deps", "lib");
  if (!hasLibtensorflow(libDir)) {
    return `libtensorflow ${LIBTENSORFLOW_VERSION} (${variant}) is missing: nothing in ${libDir}. ` +
      `The install script downloads it from ${libtensorflowUrl(variant)} ` +
      `(host: TFJS_NODE_CDN_STORAGE, or the whole prefix: TFJS_NODE_BASE_URI)`;
  }
  const addonHost = Deno.env.get("npm_config_tfjs_binding_binary_host_mirror") ||
    "https://storage.googleapis.com/tf-builds/pre-built-binary";
  return `the tfjs_binding addon is missing: no lib/napi-v*/tfjs_binding.node in ${dir}. ` +
    `node-pre-gyp neither downloaded it (${addonHost}, set by ` +
    `npm_config_tfjs_binding_binary_host_mirror) nor built it from source; ` +
    `rerun \`deno task install-native --${variant}\` where that host is reachable`;
}

function hasLibtensorflow(libDir: string): boolean {
  try {
    return [...Deno.readDirSync(libDir)].some((entry) => entry.name.includes("tensorflow"));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The URL tfjs-node's scripts/install.js builds for Linux x86_64, from the same variables. */
function libtensorflowUrl(variant: "gpu" | "cpu"): string {
  // `||` as the script has it: an empty variable falls through to the next.
  const host = Deno.env.get("TFJS_NODE_CDN_STORAGE") ||
    Deno.env.get("npm_config_TFJS_NODE_CDN_STORAGE") || Deno.env.get("CDN_STORAGE") ||
    "https://storage.googleapis.com/";
  const base = Deno.env.get("TFJS_NODE_BASE_URI") ||
    Deno.env.get("npm_config_TFJS_NODE_BASE_URI") ||
    `${host}tensorflow/libtensorflow/libtensorflow-`;
  return `${base}${variant}-linux-x86_64-${LIBTENSORFLOW_VERSION}.tar.gz`;
}
