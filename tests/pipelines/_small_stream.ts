/**
 * The settings of a small stream, shared by the tests that start one: 16 px, two heads and
 * short rounds, so that a test's stream trains in seconds.
 */
import { makeConfig, type ScanConfig } from "../../src/config.ts";
import { makeRoundConfig, type RoundConfig } from "../../src/stream/round_config.ts";

/** The config and round config of a small stream; SCAN starts once `minImages` are stored. */
export function smallStreamSettings(minImages = 24): { config: ScanConfig; rounds: RoundConfig } {
  const config = makeConfig("fixtures", {
    inputSize: 16,
    heads: 2,
    neighbours: 5,
    pretext: { batchSize: 16 },
    scan: { batchSize: 16 },
    selflabel: { batchSize: 16 },
  });
  const rounds = makeRoundConfig(config, {
    pretextSteps: 2,
    scanSteps: 2,
    selflabelSteps: 1,
    warmupSteps: 2,
    minImages,
    selflabelAfter: 4,
    // Tests of the pipeline wait for updates on a fixed folder: no hysteresis holding them back
    // (settling has its own tests).
    moveMargin: 0,
  });
  return { config, rounds };
}
