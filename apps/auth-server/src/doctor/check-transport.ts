/**
 * `<role>-https`: is the connection one every client accepts? https with a certificate chain
 * Node's default verification accepts (the system's CAs, the host name, the dates), which is what
 * Claude and the SDKs do; there is no way to make claude.ai trust a private CA.
 *
 * Plain http is a warning on loopback (OAuth 2.1 §1.5 and RFC 8252 §8.3 allow it; Claude Code and
 * MCP Inspector on the same machine connect) and a failure anywhere else: codes and tokens would
 * cross the network in clear text, and claude.ai refuses plain http.
 */
import { connect, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';
import { fail, ok, warn, type CheckResult } from './doctor-check.ts';

export interface TransportCheck {
  result: CheckResult;
  /** False when no client can connect (bad certificate, nothing listening): later checks on this host are skipped. */
  usable: boolean;
}

/** A certificate that expires sooner than this gets a warning. */
const EXPIRY_WARNING_DAYS = 14;

export async function checkTransport(role: 'mcp' | 'auth', url: URL, loopbackOnly: boolean, timeoutMs: number, now: () => number = Date.now): Promise<TransportCheck> {
  const id = `${role}-https`;
  if (url.protocol === 'http:') {
    if (loopbackOnly) {
      return {
        result: warn(id, 'plain http on a loopback address: fine for clients on this machine only',
          `${url.origin} is not https.`,
          'Claude Code and MCP Inspector through its proxy on this machine can connect (Inspector\'s direct browser mode also needs resource_server.allowed_origins: see cors). claude.ai and Claude Desktop need https with a certificate from a public CA (README: TLS).'),
        usable: true,
      };
    }
    return {
      result: fail(id, 'plain http on an address other machines reach', `${url.origin} is not https: sign-in codes and tokens would cross the network in clear text, and claude.ai refuses it.`,
        'Serve https with a certificate from a public CA: TLS_CERT_FILE and TLS_KEY_FILE on Gatehouse, or a TLS-terminating proxy with TRUST_PROXY=true (README: TLS). Then use the https URL.'),
      usable: true,
    };
  }
  return inspectCertificate(id, url, timeoutMs, now);
}

function inspectCertificate(id: string, url: URL, timeoutMs: number, now: () => number): Promise<TransportCheck> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  return new Promise((resolve) => {
    // Verification runs in full (chain, host name, dates); the result is read from the socket
    // instead of aborting the handshake, so the report can say what exactly is wrong.
    const socket = connect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ result: fail(id, `no TLS handshake with ${url.host} within ${timeoutMs / 1000} s`, null, 'Check that the server (or its proxy) is running and serves https on this port, and that no firewall drops the connection.'), usable: false });
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const certificate = socket.getPeerCertificate();
      const authorized = socket.authorized;
      const reason = socket.authorizationError ? String(socket.authorizationError) : undefined;
      socket.end();
      resolve(authorized ? validCertificate(id, url, certificate, now) : invalidCertificate(id, url, certificate, reason));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({
        result: fail(id, `no TLS connection to ${url.host}`, `${err.code ?? ''} ${err.message}`.trim(),
          err.code === 'ECONNREFUSED'
            ? `Nothing listens on port ${port}: start the server (or its proxy), or correct the port in the URL.`
            : 'Check that this port serves https (not plain http) and that no firewall is in the way.'),
        usable: false,
      });
    });
  });
}

function validCertificate(id: string, url: URL, certificate: PeerCertificate, now: () => number): TransportCheck {
  const expires = Date.parse(certificate.valid_to);
  const days = Math.floor((expires - now()) / 86_400_000);
  const detail = shownFromCertificate(`certificate for ${certificate.subject?.CN ?? url.hostname}, issued by ${certificate.issuer?.O ?? certificate.issuer?.CN ?? 'unknown'}, valid until ${certificate.valid_to}`);
  if (days < EXPIRY_WARNING_DAYS) {
    return { result: warn(id, `https certificate expires in ${days} days`, detail, 'Renew the certificate (or check that automatic renewal works) before it expires: then no client can connect.'), usable: true };
  }
  return { result: ok(id, 'https with a certificate chain clients accept', detail), usable: true };
}

/** Plain words for Node's verification error codes (openssl's X509_V_ERR_* names, and the host name check). */
const CERTIFICATE_PROBLEMS: Record<string, { summary: string; fix: string }> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: {
    summary: 'the https certificate is self-signed',
    fix: 'Use a certificate from a public CA (e.g. Let\'s Encrypt, through your proxy or certbot). Clients trust only public CAs: claude.ai cannot be told to trust yours.',
  },
  SELF_SIGNED_CERT_IN_CHAIN: {
    summary: 'the https certificate is issued by a private CA',
    fix: 'Use a certificate from a public CA (e.g. Let\'s Encrypt). Clients trust only public CAs: claude.ai cannot be told to trust yours.',
  },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: {
    summary: 'the server does not send the intermediate certificates',
    fix: 'Serve the full chain (the certificate followed by its intermediates, e.g. fullchain.pem, not cert.pem) as the certificate file.',
  },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: {
    summary: 'the https certificate\'s issuer is not a trusted CA (or intermediates are missing)',
    fix: 'Serve the full chain (e.g. fullchain.pem), and use a certificate from a public CA.',
  },
  CERT_HAS_EXPIRED: {
    summary: 'the https certificate has expired',
    fix: 'Renew the certificate and reload the server or proxy; check that automatic renewal runs.',
  },
  CERT_NOT_YET_VALID: {
    summary: 'the https certificate is not valid yet',
    fix: 'Check the server\'s clock (NTP), or wait until the certificate\'s start date.',
  },
  ERR_TLS_CERT_ALTNAME_INVALID: {
    summary: 'the https certificate is for another host name',
    fix: 'Get a certificate that names this host (in its subjectAltName), or use the host name the certificate is for.',
  },
};

function invalidCertificate(id: string, url: URL, certificate: PeerCertificate, reason: string | undefined): TransportCheck {
  const known = reason ? CERTIFICATE_PROBLEMS[reason] : undefined;
  const names = certificate.subjectaltname ? `, names ${certificate.subjectaltname}` : '';
  const detail = shownFromCertificate(`${url.host}: ${reason ?? 'not trusted'} (certificate for ${certificate.subject?.CN ?? '?'}${names}, issued by ${certificate.issuer?.CN ?? certificate.issuer?.O ?? '?'})`);
  return {
    result: fail(id, known?.summary ?? 'the https certificate is not accepted', detail,
      known?.fix ?? 'Use a valid certificate from a public CA for this host name, served with its full chain.'),
    usable: false,
  };
}

/** A certificate's names are the server's text: a line break in one must not print a line of its own. */
function shownFromCertificate(detail: string): string {
  return escapeControlCharacters(detail);
}
