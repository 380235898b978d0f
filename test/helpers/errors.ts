/** Assertions on error answers: the documented shape, and nothing leaked. */
import assert from 'node:assert/strict';
import type { Reply } from './api.js';

/** A line of a JavaScript stack trace ("    at fn (file.ts:12:3)"). */
const STACK_LINE = /(^|\n)\s*at .+(:\d+:\d+|\(native\)|<anonymous>)/;

/** The text carries no stack trace and no absolute source path. */
export function assertNoStack(text: string): void {
  assert.doesNotMatch(text, STACK_LINE, `stack trace leaked: ${text}`);
  assert.doesNotMatch(text, /\/(work|home|src|node_modules)\/[^\s"]*\.(ts|js|mjs)/, `source path leaked: ${text}`);
}

/** A REST error: the given status, exactly `{error: {code, message}}`, no stack. */
export function assertRestError(reply: Reply, status: number, code: string): void {
  const shown = JSON.stringify(reply.body);
  assert.equal(reply.status, status, `expected ${status} ${code}, got ${reply.status} ${shown}`);
  assert.equal(typeof reply.body, 'object', `error body is not JSON: ${shown}`);
  assert.deepEqual(Object.keys(reply.body), ['error'], `unexpected error shape: ${shown}`);
  assert.deepEqual(Object.keys(reply.body.error).sort(), ['code', 'message'], `unexpected error shape: ${shown}`);
  assert.equal(reply.body.error.code, code, `expected code ${code}: ${shown}`);
  assert.equal(typeof reply.body.error.message, 'string');
  assert.ok(reply.body.error.message.length > 0, 'the error message is empty');
  assertNoStack(reply.body.error.message);
}

/** A WebSocket error frame with the given code and no stack. */
export function assertErrorFrame(frame: any, code: string): void {
  const shown = JSON.stringify(frame);
  assert.equal(frame.t, 'error', `expected an error frame: ${shown}`);
  assert.equal(frame.code, code, `expected code ${code}: ${shown}`);
  assert.equal(typeof frame.message, 'string');
  assertNoStack(frame.message);
}
