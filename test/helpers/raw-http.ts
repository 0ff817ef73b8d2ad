/**
 * HTTP requests that fetch() refuses to send: any method, any `Host`, conflicting or malformed
 * framing headers, bodies written as raw bytes. Each goes on its own connection.
 */
import { request } from 'node:http';
import { connect } from 'node:net';

export interface RawResponse {
  /** 0 when the server closed the connection without answering. */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawRequest {
  method?: string;
  path: string;
  /** Sent exactly as given; `host` replaces the one derived from `base`. */
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  timeoutMs?: number;
}

export function rawRequest(base: string, { method = 'GET', path, headers = {}, body, timeoutMs = 10_000 }: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  const hasHost = Object.keys(headers).some((name) => name.toLowerCase() === 'host');
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers, setHost: !hasHost, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve({ status: 0, headers: {}, body: '' }));
    req.end(body);
  });
}

/**
 * Writes `bytes` on a fresh TCP connection and resolves with the status line's code (0 when the
 * server closed without answering), reading until the server closes or `timeoutMs` passes.
 * `hangUpAfterMs`: close from our side that long after writing (a client that goes away).
 */
export function rawBytes(base: string, bytes: string, options: { timeoutMs?: number; hangUpAfterMs?: number } = {}): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  return new Promise((resolve) => {
    let text = '';
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(bytes);
      if (options.hangUpAfterMs !== undefined) setTimeout(() => socket.destroy(), options.hangUpAfterMs);
    });
    const timer = setTimeout(() => socket.destroy(), options.timeoutMs ?? 5000);
    socket.on('data', (chunk) => { text += chunk.toString('latin1'); });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: status ? Number(status[1]) : 0, text });
    });
  });
}
