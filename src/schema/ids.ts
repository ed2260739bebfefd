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

/** node(id) and nodes(ids): an ID this server never issued is the client's mistake, not a schema error. */
export function decodeNodeId(globalId: string, implemented: (typename: string) => boolean) {
  try {
    const decoded = decodeGlobalID(globalId);
    if (implemented(decoded.typename)) return decoded;
  } catch {
    // fall through to the uniform message below
  }
  throw badInput('id', `not an ID of this API: ${JSON.stringify(globalId)}`);
}
