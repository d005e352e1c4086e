/**
 * Results that arrive in batches from elsewhere (a queue's jobs, finishing in any order, a job sometimes delivered
 * twice) handed on once each and in a fixed order, as soon as every earlier one is in: the remote paths of
 * certifyDataset and verifyDataset, which must write a local run's file line for line.
 */

/**
 * Reads `batches` to their end, handing on the item of each of `keys` once, in the order of `keys`. An item whose
 * key is not awaited (unknown, handed on already, or arrived already) is dropped; `check` sees each item kept,
 * with its position in `keys`, before it is held, and may throw. Returns how many keys were handed on: all of them
 * unless the batches ended early.
 */
export async function inKeyOrder<T>(
  keys: readonly number[], batches: AsyncIterable<readonly T[]> | Iterable<readonly T[]>, keyOf: (item: T) => number,
  handOn: (item: T, position: number) => void, check?: (item: T, position: number) => void,
): Promise<number> {
  const positionOf = new Map(keys.map((key, position) => [key, position]));
  const arrived = new Map<number, T>();
  let next = 0;
  for await (const batch of batches) {
    for (const item of batch) {
      const key = keyOf(item);
      const position = positionOf.get(key);
      if (position === undefined || position < next || arrived.has(key)) continue;
      check?.(item, position);
      arrived.set(key, item);
    }
    for (; next < keys.length && arrived.has(keys[next]); next++) {
      const item = arrived.get(keys[next])!;
      arrived.delete(keys[next]);
      handOn(item, next);
    }
  }
  return next;
}
