/**
 * The one warning the consent page shows, with every reason that applies. Claude Code's sign-in
 * is both a loopback redirect and a registration of moments ago: two stacked amber boxes that
 * said "continue only if" twice read as alarm rather than advice, so the reasons are one list
 * under one request.
 */
export interface ConsentWarningFacts {
  /** The redirect URI is loopback http (an app on this computer). */
  loopback: boolean;
  /** The redirect URI's private-use scheme (`com.example.app:`): an app on this device. */
  appScheme?: string;
  /** The client's metadata document is on a host this server does not trust. */
  unknownDocumentHost?: string;
  /** The client registered itself (DCR) moments ago. */
  justRegistered: boolean;
}

export interface ConsentWarning {
  /** What to do: continue only if … */
  request: string;
  reasons: string[];
}

export function consentWarning(facts: ConsentWarningFacts): ConsentWarning | undefined {
  const reasons: string[] = [];
  if (facts.loopback) reasons.push('It returns to an address on your own computer.');
  if (facts.appScheme) reasons.push(`It returns to the app on this device that opens ${facts.appScheme} links, and any app can claim those.`);
  if (facts.unknownDocumentHost) reasons.push(`It describes itself with a document on ${facts.unknownDocumentHost}, which this server does not know.`);
  if (facts.justRegistered) reasons.push('It registered itself with this server moments ago, and anyone can register an app.');
  if (reasons.length === 0) return undefined;
  const trust = facts.unknownDocumentHost ? ` and you trust ${facts.unknownDocumentHost}` : '';
  return { request: `Continue only if you started connecting this app yourself just now${trust}.`, reasons };
}
