/**
 * Leaves Gatehouse's own sign-ins out of the flight recorder: the admin pages and "My apps" sign
 * people in through the provider with the first-party client (provider/internal-client.ts), and
 * those are not connections of an MCP client. Recorded, every admin sign-in would be an attempt
 * in the Connections list, burying the attempts an admin is there to read.
 */
import type { ConnectionRecorder } from '../../../shared/connection-events.ts';
import { INTERNAL_CLIENT_ID } from '../provider/internal-client.ts';

export function skipOwnClient(recorder: ConnectionRecorder): ConnectionRecorder {
  return {
    record(event, at) {
      if (event.clientId !== INTERNAL_CLIENT_ID) recorder.record(event, at);
    },
    flush: () => recorder.flush(),
  };
}
