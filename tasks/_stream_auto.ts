/**
 * The stream's `auto` preset: settings chosen from the images in the watched directory at the
 * first start (src/run/auto_settings.ts, the rules `deno task train` uses), kept in the state
 * directory so that a restart, with more images in the directory by then, keeps the networks'
 * shape and the augmentations it trained with.
 */
import { join } from "node:path";
import { makeConfig, type ScanConfig } from "../src/config.ts";
import { profileDataset } from "../src/data/profile.ts";
import { savedConfigSchema } from "../src/protocol/disk_state.ts";
import { autoSettings } from "../src/run/auto_settings.ts";
import { parseSavedConfig } from "../src/run/load_run.ts";
import { readJsonIfExists, writeJsonAtomic } from "../src/util/atomic_write.ts";

/** Where the chosen settings are kept in a stream's state directory. */
export const AUTO_SETTINGS_FILE = "auto-settings.json";

/**
 * The `auto` base config of a stream watching `watch` with state in `stateDir`: the one saved at
 * the first start, else chosen now from the images there (and saved); with no image there yet,
 * the `fixtures` preset, said in the log.
 *
 * @throws {Error} when a saved choice is unreadable or invalid (it is not replaced silently).
 */
export async function streamAutoConfig(
  watch: string,
  stateDir: string,
  clusters: number | undefined,
  log: (line: string) => void,
): Promise<ScanConfig> {
  const file = join(stateDir, AUTO_SETTINGS_FILE);
  const saved = await readJsonIfExists(file, savedConfigSchema());
  if (saved !== undefined) {
    log(`auto: the settings chosen at the first start, from ${file}`);
    return parseSavedConfig(
      saved,
      (why) => new Error(`Cannot read the auto settings in ${file}: ${why}`),
    );
  }
  const profile = await profileDataset(watch);
  let config: ScanConfig;
  if (profile.sample.length === 0) {
    log(
      `auto: no image in ${watch} yet to choose settings from: the fixtures preset ` +
        "(pass --preset to choose)",
    );
    config = makeConfig("fixtures", clusters === undefined ? {} : { clusters });
  } else {
    const auto = autoSettings(profile, clusters);
    for (const [field, reason] of Object.entries(auto.reasons)) {
      // Epochs are the offline run's; the stream's rounds count steps.
      if (field !== "epochs") log(`auto ${field} ${reason}`);
    }
    config = auto.config;
  }
  await Deno.mkdir(stateDir, { recursive: true });
  await writeJsonAtomic(file, config);
  return config;
}
