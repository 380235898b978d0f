import type { WriteLane } from '../../src/store/write-lane.js';

/** A write lane (src/store/write-lane.ts) that counts the insert commands and can fail the next ones after a delay. */
export function countingLane() {
  const lane = {
    commands: 0,
    failNext: 0,
    run<T>(write: () => Promise<T>): Promise<T> {
      lane.commands += 1;
      if (lane.failNext > 0) {
        lane.failNext -= 1;
        return new Promise((_, reject) => setTimeout(() => reject(new Error('connection reset')), 30));
      }
      return write();
    },
  } satisfies WriteLane & Record<string, unknown>;
  return lane;
}
