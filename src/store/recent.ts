/**
 * A map of the latest entries: it holds the last `max / 2` set at least and
 * `max` at most. Two generations: lookups see both; once the young one holds
 * half the bound it becomes the old one and the old one is dropped.
 * O(1) each: evicting a Map's oldest key instead (`keys().next()`) makes V8
 * step over every key deleted before it until the table is rebuilt, which
 * cost 10 µs a message once the cache was full (0.8 s of 15 at 6,000 msg/s).
 */
/** Values are never undefined: a lookup's undefined means "not held". */
export class Recent<V extends NonNullable<unknown>> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.young.get(key) ?? this.old.get(key);
  }

  has(key: string): boolean {
    return this.young.has(key) || this.old.has(key);
  }

  set(key: string, value: V): void {
    if (this.young.size >= this.max / 2) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}
