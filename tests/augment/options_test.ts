import assert from "node:assert/strict";
import {
  DEFAULT_STRONG_OPTIONS,
  DEFAULT_WEAK_OPTIONS,
  RAND_AUGMENT_OPS,
  resolveStrongOptions,
  resolveWeakOptions,
} from "../../src/augment/options.ts";

Deno.test("defaults are SCAN's CIFAR-10 augmentation settings", () => {
  assert.deepEqual(DEFAULT_WEAK_OPTIONS.cropScale, [0.2, 1]);
  assert.equal(DEFAULT_WEAK_OPTIONS.jitterProbability, 0.8);
  assert.deepEqual(
    [
      DEFAULT_WEAK_OPTIONS.brightness,
      DEFAULT_WEAK_OPTIONS.contrast,
      DEFAULT_WEAK_OPTIONS.saturation,
    ],
    [0.4, 0.4, 0.4],
  );
  assert.equal(DEFAULT_WEAK_OPTIONS.hue, 0.1);
  assert.equal(DEFAULT_WEAK_OPTIONS.grayscaleProbability, 0.2);
  assert.equal(DEFAULT_STRONG_OPTIONS.numOps, 4);
  assert.equal(DEFAULT_STRONG_OPTIONS.cutoutHoles, 1);
  assert.equal(DEFAULT_STRONG_OPTIONS.cutoutFraction * 32, 16);
  assert.equal(RAND_AUGMENT_OPS.length, 14);
});

Deno.test("resolveWeakOptions() fills defaults, keeps overrides and freezes", () => {
  const resolved = resolveWeakOptions({ hue: 0, cropScale: [1, 1] });
  assert.equal(resolved.hue, 0);
  assert.deepEqual(resolved.cropScale, [1, 1]);
  assert.equal(resolved.brightness, 0.4);
  assert.ok(Object.isFrozen(resolved));
});

Deno.test("resolveWeakOptions() rejects out-of-range values with the option's name", () => {
  assert.throws(() => resolveWeakOptions({ flipProbability: 1.5 }), {
    name: "RangeError",
    message: "Cannot augment images: flipProbability must be in [0, 1], current value is 1.5",
  });
  assert.throws(() => resolveWeakOptions({ cropScale: [0.5, 0.2] }), /cropScale/);
  assert.throws(() => resolveWeakOptions({ cropScale: [0, 1] }), /cropScale/);
  assert.throws(() => resolveWeakOptions({ hue: 0.7 }), /hue/);
  assert.throws(() => resolveWeakOptions({ brightness: NaN }), /brightness/);
});

Deno.test("resolveStrongOptions() validates both the weak and the strong options", () => {
  assert.equal(resolveStrongOptions({ numOps: 2 }).numOps, 2);
  assert.throws(() => resolveStrongOptions({ numOps: -1 }), /numOps/);
  assert.throws(() => resolveStrongOptions({ cutoutHoles: 0.5 }), /cutoutHoles/);
  assert.throws(() => resolveStrongOptions({ ops: [] }), /ops/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => resolveStrongOptions({ ops: ["blur" as any] }), /current value is blur/);
  assert.throws(() => resolveStrongOptions({ grayscaleProbability: -1 }), /grayscaleProbability/);
});
