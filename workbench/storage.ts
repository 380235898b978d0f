/**
 * localStorage as JSON, never throwing: storage may be disabled, full or
 * hold something an older version wrote; the workbench then works without it.
 */
export function load<T>(key: string, valid: (v: unknown) => v is T): T | undefined {
  try {
    const raw = localStorage.getItem(key);
    if (raw === null) return undefined;
    const v: unknown = JSON.parse(raw);
    return valid(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function save(key: string, value: unknown): void {
  try {
    if (value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // full or disabled: this tab keeps working, only a reload forgets
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
