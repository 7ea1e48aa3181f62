/**
 * Spreading periodic and retried requests of many pages over time, so that the pages one event
 * started together (a Space's end, an SFU restart) do not keep asking together.
 */

/** `ms` give or take `fraction` of it, drawn uniformly from `random()` in [0, 1). */
export function spread(ms: number, random: () => number, fraction = 0.2): number {
  return ms * (1 - fraction + 2 * fraction * random());
}
