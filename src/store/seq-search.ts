/**
 * Where a session's stored messages end, in few lookups. The message store
 * is prefix-closed (messages.ts): a stored seq means every seq before it is
 * stored, so "is seq S taken" is true up to the last stored seq and false
 * after it, and the end can be searched for instead of walked to.
 *
 * Why it matters: a session's recorded lastSeq lags its store by up to a few
 * seconds of messages (sessions.ts coalesces its writes), and every client
 * that connects asks for the exact last seq of each of its open sessions. A
 * walk from the recorded seq cost one lookup per message of the lag: in a
 * busy chat, hundreds, for each client of a reconnect storm. Galloping costs
 * about 2·log2(lag).
 */

/**
 * The first seq at or after `from` that is not taken, given that every seq
 * before `from` is. Looks at `from`, then gallops (from+1, from+3, from+7,
 * ...: each step twice the last) until a seq is free, then halves the gap
 * between the last taken and the first free one. Lookups: 1 when `from` is
 * free, 2 when only `from` is taken, about 2·log2(k) when k are.
 */
export async function firstFree(from: number, isTaken: (seq: number) => Promise<boolean>): Promise<number> {
  if (!(await isTaken(from))) return from;
  let taken = from;
  let free = from + 1;
  for (let step = 1; await isTaken(free); step *= 2) {
    taken = free;
    free = taken + step * 2;
  }
  // taken < the answer <= free
  while (free - taken > 1) {
    const mid = taken + Math.floor((free - taken) / 2);
    if (await isTaken(mid)) taken = mid;
    else free = mid;
  }
  return free;
}
