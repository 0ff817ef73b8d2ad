/**
 * Marks the connection events of a client_id no client has (`clientUnknown`), which the
 * connection log reads apart (connection-log.ts): anyone, with no account, can send /oauth/token
 * and /oauth/authorize requests naming made-up client_ids, and 5,000 such refusals, each an event
 * of "a client", pushed every registered client's attempt out of the log's read.
 *
 * - Only events whose client oidc-provider did not resolve come through `recordUnresolved`: a
 *   refusal at its client lookup, or before it (an `invalid_target` refused in front of the
 *   provider, record-refused-token-target.ts). An unset `ctx.oidc.client` alone proves nothing.
 * - Each client_id is looked up: the provider's Client.find (static clients, the database). A URL
 *   client_id (a Client ID Metadata Document) is known when this process holds an accepted copy of
 *   its document, or else when a use of it is stored (client_usage, written by every replica on
 *   each client's token responses: one read by primary key). Client.find would fetch the
 *   document, and a log event is no reason to fetch anything. A URL in neither is unknown: any
 *   URL costs nothing to send; a client whose first token request fails on a replica that did
 *   not fetch its document is misjudged so. The event keeps its client_id either way, so a real
 *   client's refusal still joins its attempt when read; it is only read in the smaller window.
 * - A lookup that fails (the database down) counts as known: a real client's refusal is never set
 *   apart on a guess.
 * - Unknown events are recorded at most once a minute per step, address and client_id, and
 *   MAX_PER_MINUTE in all (flood-guard.ts), as anonymous steps are capped (record-metadata-fetches.ts):
 *   each would be kept for `connections.retention`. Known ones never meet that cap.
 * - An event is stamped when its request came, not when its lookup ended: a client's refusal must
 *   not land after its immediate retry's success (the log takes the last event for the outcome).
 * - `flush` waits for the lookups under way, so what a request recorded is in the next read.
 */
import type { Clock } from '../../../shared/clock.ts';
import type { ConnectionRecorder, NewConnectionEvent } from '../../../shared/connection-events.ts';
import { FloodGuard } from '../../../shared/connections/flood-guard.ts';
import { isMetadataDocumentClientId } from '../registration/client-metadata-policy.ts';

const MAX_PER_MINUTE = 600;

export interface UnknownClientsOptions {
  /** The provider's client lookup (Client.find): undefined when no client has the id. */
  findClient: (clientId: string) => Promise<unknown>;
  /** Whether an accepted Client ID Metadata Document of this URL is remembered (client-document-cache.ts). */
  holdsDocument: (url: string) => boolean;
  /** Whether a use of this client is stored (client-usage.ts), by any replica; never fetches. */
  wasUsed: (clientId: string) => Promise<boolean>;
  clock: Clock;
}

/** A recorder that can also take events whose client_id nobody has looked up yet. */
export interface UnresolvedClientRecorder extends ConnectionRecorder {
  /** Records `event` once its `clientId` is looked up: marked `clientUnknown` when no client has it. */
  recordUnresolved(event: NewConnectionEvent): void;
}

export function setApartUnknownClients(recorder: ConnectionRecorder, options: UnknownClientsOptions): UnresolvedClientRecorder {
  const { findClient, holdsDocument, wasUsed, clock } = options;
  const guard = new FloodGuard({ clock, maxPerWindow: MAX_PER_MINUTE });
  const pending = new Set<Promise<void>>();

  async function isKnown(clientId: string): Promise<boolean> {
    const metadataDocument = isMetadataDocumentClientId(clientId);
    if (metadataDocument && holdsDocument(clientId)) return true;
    try {
      return metadataDocument ? await wasUsed(clientId) : await findClient(clientId) !== undefined;
    } catch {
      return true;
    }
  }

  async function classify(event: NewConnectionEvent & { clientId: string }, at: number): Promise<void> {
    if (await isKnown(event.clientId)) {
      recorder.record(event, at);
      return;
    }
    if (guard.admits(`${event.step} ${event.ip ?? ''} ${event.clientId}`)) recorder.record({ ...event, clientUnknown: true }, at);
  }

  return {
    record: (event, at) => recorder.record(event, at),
    recordUnresolved(event) {
      const { clientId } = event;
      if (clientId === undefined) {
        recorder.record(event);
        return;
      }
      // Recording is never worth a failed request: nothing here may reject unhandled.
      const lookup = classify({ ...event, clientId }, clock.now()).catch(() => {}).finally(() => pending.delete(lookup));
      pending.add(lookup);
    },
    async flush() {
      await Promise.all(pending);
      await recorder.flush();
    },
  };
}
