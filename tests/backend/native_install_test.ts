/**
 * `deno task install-native` as a user runs it, every step up to the download: Deno fetches the
 * package from the npm registry it already uses, runs the package's install script (which it
 * skips unless told), and the script's downloads arrive at a host this test starts on 127.0.0.1.
 * Every download host the install can use is pointed there, so nothing else leaves the machine:
 *
 * - libtensorflow: tfjs-node's scripts/install.js reads TFJS_NODE_CDN_STORAGE (the host) and
 *   TFJS_NODE_BASE_URI (the whole prefix, which wins);
 * - the tfjs_binding addon: node-pre-gyp reads npm_config_tfjs_binding_binary_host_mirror;
 * - node headers, when node-pre-gyp falls back to building the addon: node-gyp reads
 *   npm_config_dist_url and NODEJS_ORG_MIRROR;
 * - proxies are removed: the script sends every download through HTTPS_PROXY when set,
 *   ignoring NO_PROXY.
 *
 * It runs in a temporary copy of deno.json and deno.lock, never in this checkout's node_modules,
 * and is skipped with a message when the npm registry cannot be reached.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startLoopbackHost } from "./_loopback_host.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const REGISTRY = Deno.env.get("NPM_CONFIG_REGISTRY") ?? "https://registry.npmjs.org/";
const PROXY_VARIABLES = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"];

/** Why the registry is out of reach, or undefined when it answers. */
async function registryUnreachable(): Promise<string | undefined> {
  // In a subprocess: this test's own network permission is loopback only.
  const url = `${REGISTRY.replace(/\/?$/, "/")}@tensorflow%2ftfjs-node`;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--no-config",
      `const r = await fetch(${JSON.stringify(url)}, { method: "HEAD", ` +
      `signal: AbortSignal.timeout(20000) }); if (!r.ok) throw new Error("HTTP " + r.status);`,
    ],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code === 0) return undefined;
  return new TextDecoder().decode(stderr).split("\n").find((line) => line.includes("rror")) ??
    `exit ${code}`;
}

const LINUX_X64 = Deno.build.os === "linux" && Deno.build.arch === "x86_64";
const unreachable = LINUX_X64 ? await registryUnreachable() : "not linux x86_64";
if (unreachable !== undefined) {
  console.warn(`native_install_test: skipped: npm registry ${REGISTRY}: ${unreachable}`);
}

/** The install task with its deno.json permissions, in `dir`, downloads sent to `host`. */
async function installNative(variant: "--cpu" | "--gpu", dir: string, host: string) {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const permissions = (config.tasks["install-native"] as string).split(/\s+/)
    .filter((word) => word.startsWith("--allow-"));
  const env = Deno.env.toObject();
  for (const name of PROXY_VARIABLES) delete env[name];
  Object.assign(env, {
    TFJS_NODE_CDN_STORAGE: host,
    TFJS_NODE_BASE_URI: `${host}tensorflow/libtensorflow/libtensorflow-`,
    npm_config_tfjs_binding_binary_host_mirror: `${host}addon/`,
    npm_config_dist_url: `${host}node/`,
    NODEJS_ORG_MIRROR: `${host}node/`,
    NO_COLOR: "1",
  });
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, "tasks/install_native.ts", variant, "--dir", dir],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stderr: decoder.decode(output.stderr),
    stdout: decoder.decode(output.stdout),
  };
}

/** The last line of the task's stderr: its own verdict, after deno install's output. */
function verdict(stderr: string): string {
  return stderr.trimEnd().split("\n").at(-1)!;
}

/** A gzipped tarball holding an empty lib/libtensorflow.so.2.9.1, made with tar(1). */
async function stubLibtensorflow(dir: string): Promise<Uint8Array> {
  await Deno.mkdir(join(dir, "lib"), { recursive: true });
  await Deno.writeFile(join(dir, "lib", "libtensorflow.so.2.9.1"), new Uint8Array());
  const tarball = join(dir, "libtensorflow.tar.gz");
  const { code } = await new Deno.Command("tar", { args: ["czf", tarball, "-C", dir, "lib"] })
    .output();
  assert.equal(code, 0, "tar czf failed");
  return await Deno.readFile(tarball);
}

Deno.test({
  name: "install-native - runs the install script; every download arrives at loopback",
  ignore: unreachable !== undefined,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "scanstream_native_install_" });
    const host = startLoopbackHost();
    try {
      for (const file of ["deno.json", "deno.lock"]) {
        await Deno.copyFile(join(ROOT, file), join(dir, file));
      }
      const cpuLib = "/tensorflow/libtensorflow/libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz";

      await t.step("tfjs-node: libtensorflow asked of loopback, missing, named", async () => {
        const { code, stderr } = await installNative("--cpu", dir, host.url);
        assert.equal(code, 1, stderr);
        assert.deepEqual(host.paths, [cpuLib], stderr);
        // Deno ran the script (its output carries the URL it downloads from).
        assert.match(stderr, /script 'install' in '@tensorflow\/tfjs-node@4\.22\.0' failed/);
        assert.match(
          verdict(stderr),
          /^error: install-native: libtensorflow 2\.9\.1 \(cpu\) is missing/,
        );
        assert.ok(verdict(stderr).includes(`${host.url}${cpuLib.slice(1)}`), verdict(stderr));
      });

      await t.step(
        "tfjs-node: with libtensorflow, the addon asked of loopback, missing, named",
        async () => {
          host.serve(cpuLib, await stubLibtensorflow(join(dir, "stub")));
          host.paths.length = 0;
          const { code, stderr } = await installNative("--cpu", dir, host.url);
          assert.equal(code, 1, stderr);
          // Deno marks a failed script as run; the task clears the mark so the script runs again.
          assert.match(stderr, /removed .*\.scripts-run left by an earlier failed install/);
          assert.equal(host.paths[0], cpuLib, stderr);
          assert.match(
            host.paths[1] ?? "",
            /^\/addon\/napi-v\d+\/4\.22\.0\/CPU-linux-4\.22\.0\.tar\.gz$/,
            stderr,
          );
          // node-gyp's fallback build may ask for node headers; from loopback too, or nowhere.
          for (const path of host.paths.slice(2)) assert.match(path, /^\/node\//, stderr);
          assert.match(
            verdict(stderr),
            /^error: install-native: the tfjs_binding addon is missing/,
          );
          console.log(`loopback host was asked for: ${host.paths.join(", ")}`);
        },
      );

      await t.step("tfjs-node-gpu: the gpu libtensorflow asked of loopback", async () => {
        host.paths.length = 0;
        const { code, stderr } = await installNative("--gpu", dir, host.url);
        assert.equal(code, 1, stderr);
        assert.deepEqual(host.paths, [
          "/tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz",
        ], stderr);
        assert.match(
          verdict(stderr),
          /^error: install-native: libtensorflow 2\.9\.1 \(gpu\) is missing/,
        );
      });

      await t.step("the install added nothing to deno.json or deno.lock", async () => {
        for (const file of ["deno.json", "deno.lock"]) {
          assert.equal(
            await Deno.readTextFile(join(dir, file)),
            await Deno.readTextFile(join(ROOT, file)),
            `${file} changed`,
          );
        }
      });
    } finally {
      await host.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
