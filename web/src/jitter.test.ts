import { describe, expect, it } from "vitest";
import { spread } from "./jitter";

describe("spread", () => {
  it("covers ms give or take the fraction, evenly", () => {
    expect(spread(1000, () => 0)).toBe(800);
    expect(spread(1000, () => 0.5)).toBe(1000);
    expect(spread(1000, () => 0.999_999)).toBeCloseTo(1200, 2);
    expect(spread(1000, () => 0.25, 0.5)).toBe(750);
  });
});
