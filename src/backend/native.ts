/**
 * The native TensorFlow backend (`--backend tensorflow`): tfjs-node-gpu, then tfjs-node, found in
 * the project's `node_modules` and loaded from there.
 *
 * Neither package is in deno.json: `deno task install-native` installs one with `deno install
 * --no-save --no-lock`, so the default path, the lock file and CI never fetch it. That is also
 * why the package is looked for on disk and loaded with `require` from `node_modules` rather
 * than `import("npm:...")`: with `"nodeModulesDir": "auto"` a missing npm specifier is fetched
 * on the spot (hundreds of files, without the install script that makes it work) and written to
 * deno.lock, all before failing.
 *
 * Nothing here imports tfjs, so the install task and a main-thread preflight stay light.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The version of both native packages, the same as every other tfjs package here. */
export const NATIVE_VERSION = "4.22.0";

/** The native packages, in the order `--backend tensorflow` tries them. */
export const NATIVE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;

/** One of {@link NATIVE_PACKAGES}. */
export type NativePackage = typeof NATIVE_PACKAGES[number];

/**
 * The documented way to install the native backend under Deno (docs/gpu.md gives the same
 * command; a test holds the two together). `--cpu` installs tfjs-node instead.
 */
export const NATIVE_INSTALL_COMMAND = "deno task install-native --gpu";

/** The `deno install` that {@link NATIVE_INSTALL_COMMAND} runs for `pkg`, as arguments. */
export function denoInstallArgs(pkg: NativePackage): string[] {
  const spec = `npm:${pkg}@${NATIVE_VERSION}`;
  // --allow-scripts: the package's install script downloads libtensorflow and the addon, and
  // Deno runs no lifecycle script unless named. --no-save / --no-lock: see the module doc.
  return ["install", "--no-save", "--no-lock", `--allow-scripts=${spec}`, spec];
}

/** The project root, whose node_modules Deno manages (`"nodeModulesDir": "auto"`). */
export function projectRoot(): string {
  const here = new URL("../../", import.meta.url);
  return here.protocol === "file:" ? fileURLToPath(here) : Deno.cwd();
}

/** Where `pkg` lies in `root`'s node_modules (a link into node_modules/.deno under Deno). */
export function nativePackageDir(root: string, pkg: NativePackage): string {
  return join(root, "node_modules", pkg);
}

/** A native package that is on disk with its addon built or downloaded. */
export interface NativeInstall {
  readonly pkg: NativePackage;
  readonly dir: string;
  /** The `tfjs_binding.node` addon, which loads libtensorflow. */
  readonly addon: string;
}

/**
 * The addon of an installed package, or why there is none: `absent` when the package is not in
 * node_modules, `no-addon` when it is but its install script did not finish.
 */
export function findNativeAddon(
  root: string,
  pkg: NativePackage,
): NativeInstall | "absent" | "no-addon" {
  const dir = nativePackageDir(root, pkg);
  if (!exists(join(dir, "package.json"))) return "absent";
  // node-pre-gyp puts the addon under lib/napi-v<N>, N chosen from the runtime's N-API version.
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(join(dir, "lib"))];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "no-addon";
    throw error;
  }
  for (const entry of entries.filter((e) => e.name.startsWith("napi-v")).sort(byName)) {
    const addon = join(dir, "lib", entry.name, "tfjs_binding.node");
    if (exists(addon)) return { pkg, dir, addon };
  }
  return "no-addon";
}

/**
 * The first native package installed in `root`, checked without loading it: present, with its
 * addon, and loadable under this process's permissions.
 *
 * @throws {Error} one line that names what is missing and gives {@link NATIVE_INSTALL_COMMAND}.
 */
export async function ensureNativeInstalled(root: string = projectRoot()): Promise<NativeInstall> {
  const states: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    const install = findNativeAddon(root, pkg);
    if (typeof install !== "string") {
      // Deno loads a Node-API addon only with --allow-ffi; without it the load fails deep
      // inside tfjs-node with a message that does not say which flag.
      const ffi = await Deno.permissions.query({ name: "ffi", path: install.addon });
      if (ffi.state !== "granted") {
        throw new Error(
          `Cannot select backend tensorflow: ${pkg}@${NATIVE_VERSION} is installed but loading ` +
            `its addon ${install.addon} needs --allow-ffi (the deno.json tasks pass ` +
            `--allow-ffi=node_modules), current permission is ${ffi.state}`,
        );
      }
      return install;
    }
    states.push(install);
  }
  const modules = join(root, "node_modules");
  const what = states.every((state) => state === "absent")
    ? `neither ${NATIVE_PACKAGES.map((pkg) => `${pkg}@${NATIVE_VERSION}`).join(" nor ")} is ` +
      `installed in ${modules}`
    : NATIVE_PACKAGES.map((pkg, i) =>
      states[i] === "absent"
        ? `${pkg}@${NATIVE_VERSION} is not installed`
        : `${pkg}@${NATIVE_VERSION} has no lib/napi-v*/tfjs_binding.node (its install script ` +
          `did not finish)`
    ).join(", ") + ` in ${modules}`;
  throw new Error(
    `Cannot select backend tensorflow: ${what}. Install it with \`${NATIVE_INSTALL_COMMAND}\` ` +
      `(\`--cpu\` for tfjs-node; see docs/gpu.md), or use --backend wasm.`,
  );
}

/**
 * Load the first installed native package, which registers the `tensorflow` backend with tfjs.
 * Works the same on the main thread and in a Worker (each loads its own copy of the addon).
 *
 * @throws {Error} as {@link ensureNativeInstalled}, or when the addon fails to load (for
 *   tfjs-node-gpu, typically CUDA or cuDNN libraries not found).
 */
export async function loadNative(root: string = projectRoot()): Promise<NativePackage> {
  const install = await ensureNativeInstalled(root);
  // From node_modules, the package's own require('@tensorflow/tfjs-core') resolves to the same
  // file the project imports, so both share one tfjs engine.
  const require = createRequire(join(root, "node_modules", "/"));
  try {
    require(install.pkg);
  } catch (error) {
    throw new Error(
      `Cannot select backend tensorflow: ${install.pkg}@${NATIVE_VERSION} is installed but ` +
        `failed to load: ${String((error as Error).message).split("\n")[0]}`,
      { cause: error },
    );
  }
  return install.pkg;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function byName(a: Deno.DirEntry, b: Deno.DirEntry): number {
  // Highest N-API version first, numerically (napi-v10 after napi-v8).
  return Number(b.name.slice(6)) - Number(a.name.slice(6));
}
