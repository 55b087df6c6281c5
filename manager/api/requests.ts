import { createHash } from 'node:crypto';
import { invalidArgument } from '../../src/errors';
import type { RequestRow } from '../store/requests';
import type { Store } from '../store/index';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// A client's idempotency key (request_id), checked at the edge; empty means none.
export function checkRequestId(v: string): string | undefined {
  if (!v) return undefined;
  if (!REQUEST_ID.test(v)) throw invalidArgument('request_id must be 1 to 128 letters, digits, ".", "_", ":" or "-"');
  return v;
}

export interface RequestKey {
  id: string;
  method: string;
  fingerprint: string;
}

// The fields that make a request what it is; the same key over other fields is a client bug.
export function requestKey(id: string | undefined, method: string, fields: unknown): RequestKey | undefined {
  if (!id) return undefined;
  return { id, method, fingerprint: createHash('sha256').update(JSON.stringify(fields)).digest('hex') };
}

// What the first call with this key did, if it got as far as a commit.
export function priorRequest(store: Store, key: RequestKey | undefined): RequestRow | undefined {
  if (!key) return undefined;
  const r = store.requests.get(key.id);
  if (r && (r.method !== key.method || r.fingerprint !== key.fingerprint)) {
    throw invalidArgument(`request_id ${key.id} was already used for another request (${r.method} at ${r.createdAt})`);
  }
  return r;
}
