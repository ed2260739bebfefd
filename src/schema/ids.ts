import { decodeGlobalID } from '@pothos/plugin-relay';
import { badInput } from '../errors.js';

/** Decodes a Relay global ID of the expected type, or fails with BAD_USER_INPUT naming the argument. */
export function decodeId(globalId: string | number, typename: string, field = 'id'): string {
  try {
    const decoded = decodeGlobalID(String(globalId));
    if (decoded.typename === typename) return decoded.id;
  } catch {
    // fall through to the uniform message below
  }
  throw badInput(field, `expected a ${typename} ID, got ${JSON.stringify(globalId)}`);
}
