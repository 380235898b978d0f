import { ObjectId } from 'mongodb';

/** New record ids: ObjectId hex strings (sortable by creation time, URL-safe). */
export function newId(): string {
  return new ObjectId().toHexString();
}

/** MongoDB's duplicate-key error, as MongoDB and FerretDB both report it. */
export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

/** MongoDB's "index not found" (dropIndex of a name that is not there), as MongoDB and FerretDB both report it. */
export function isIndexNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 27;
}
