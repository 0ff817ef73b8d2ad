/**
 * A cookie-carrying HTTP client that behaves like a browser on the auth-server's pages: it keeps
 * cookies per host, follows redirects within the server, and stops at the first redirect that
 * leaves it (the client's callback), which it returns without fetching.
 */

interface Cookie {
  name: string;
  value: string;
  path: string;
}

export interface PageResult {
  status: number;
  url: string;
  html: string;
  headers: Headers;
}

export class Browser {
  #cookies = new Map<string, Cookie>();

  constructor(readonly origin: string) {}

  cookieHeader(url: URL): string {
    return [...this.#cookies.values()]
      .filter((c) => url.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  hasCookie(name: string): boolean {
    return this.#cookies.has(name);
  }

  clearCookies(): void {
    this.#cookies.clear();
  }

  #store(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const pathAttr = attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const expired = attributes.some((a) => /^max-age=0$/i.test(a.trim()) || /^expires=thu, 01 jan 1970/i.test(a.trim()));
      const key = `${name}`;
      if (expired || value === '') this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path: pathAttr ? pathAttr.slice(5) : '/' });
    }
  }

  /** One request, no redirects followed. */
  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url, this.origin);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(target);
    if (cookie && target.origin === this.origin) headers.set('cookie', cookie);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    if (target.origin === this.origin) this.#store(response.headers);
    return response;
  }

  /**
   * Follows redirects inside the server. Returns the page it lands on, or `{ status: 3xx, url }`
   * when a redirect leaves the server (the client's callback URL is in `url`).
   */
  async navigate(url: string | URL, init: RequestInit = {}): Promise<PageResult> {
    let response = await this.request(url, init);
    let current = new URL(url, this.origin);
    for (let hops = 0; hops < 10 && response.status >= 300 && response.status < 400; hops += 1) {
      const next = new URL(response.headers.get('location')!, current);
      if (next.origin !== this.origin) {
        return { status: response.status, url: next.href, html: '', headers: response.headers };
      }
      current = next;
      response = await this.request(next);
    }
    return { status: response.status, url: current.href, html: await response.text(), headers: response.headers };
  }

  /** Submits a form: fields are sent urlencoded to `action` (relative to the current page). */
  async submit(action: string, fields: Record<string, string | string[]>, from: string): Promise<PageResult> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const item of [v].flat()) body.append(k, item);
    return this.navigate(new URL(action, from), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  }
}

/** Reads the value of a hidden/named input from HTML (enough for our own simple pages). */
export function inputValue(html: string, name: string): string | undefined {
  const match = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html);
  return match?.[1]?.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

export function formAction(html: string): string {
  const match = /<form[^>]*action="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no form on page:\n${html.slice(0, 500)}`);
  return match[1]!;
}
