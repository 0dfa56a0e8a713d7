// Small wrappers the reconcilers' act steps share around API calls.

import { classifyApiError, statusCodeOf } from '../../core/errors.js';

/** Awaits `p`; a 404 (the object is gone already) is success. */
export async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (classifyApiError(err) !== 'not-found') throw err;
    return undefined;
  }
}

/** Awaits `p`; undefined for a 404. For reads of objects that may not exist. */
export const readOptional = ignoreNotFound;

/**
 * A JSON patch whose `test` op failed answers 422; for a patch guarded by a test of what we read,
 * that means someone wrote in between: the same as a 409, and retried as one (not terminal).
 */
export async function testFailedAsConflict<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (statusCodeOf(err) === 422) throw Object.assign(new Error('the object changed since it was read (JSON patch test failed)'), { code: 409, body: { reason: 'Conflict' } });
    throw err;
  }
}
