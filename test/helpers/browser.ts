/**
 * A cookie-carrying HTTP client that behaves like a browser on the auth-server's pages: it keeps
 * cookies per host, follows redirects within the server, and stops at the first redirect that
 * leaves it (the client's callback), which it returns without fetching.
 */

export interface Cookie {
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
  /** Cookies per origin, keyed by name and path (as a browser scopes them). */
  #jars = new Map<string, Map<string, Cookie>>();
  readonly #follow: Set<string>;

  /** `origin`: the auth-server; `alsoFollow`: other origins navigation may pass through (an upstream IdP). */
  constructor(readonly origin: string, alsoFollow: string[] = []) {
    this.#follow = new Set([origin, ...alsoFollow.map((o) => new URL(o).origin)]);
  }

  #jar(origin: string): Map<string, Cookie> {
    let jar = this.#jars.get(origin);
    if (!jar) {
      jar = new Map();
      this.#jars.set(origin, jar);
    }
    return jar;
  }

  cookieHeader(url: URL): string {
    return [...this.#jar(url.origin).values()]
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  /** The value of a cookie the auth-server set, if any (as an attacker reading the browser would see it). */
  cookieValue(name: string): string | undefined {
    return [...this.#jar(this.origin).values()].find((c) => c.name === name)?.value;
  }

  hasCookie(name: string): boolean {
    return [...this.#jar(this.origin).values()].some((c) => c.name === name);
  }

  /** Every cookie the auth-server set, with its path (an attacker copying them from their own browser). */
  cookies(): Cookie[] {
    return [...this.#jar(this.origin).values()].map((c) => ({ ...c }));
  }

  /**
   * Sets a cookie as another host could (a sibling subdomain's cookie for the parent domain, or a
   * man-in-the-middle on http): never a `__Host-` one, which browsers take only from the host itself.
   */
  plant(cookie: Cookie): void {
    if (/^__host-/i.test(cookie.name)) throw new Error(`no other host can set ${cookie.name}`);
    this.#jar(this.origin).set(`${cookie.name};${cookie.path}`, { ...cookie });
  }

  clearCookies(): void {
    this.#jars.clear();
  }

  #store(origin: string, headers: Headers): void {
    const jar = this.#jar(origin);
    for (const line of headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const pathAttr = attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const path = pathAttr ? pathAttr.slice(5) : '/';
      const flags = attributes.map((a) => a.trim().toLowerCase());
      // As browsers do (RFC 6265bis §4.1.3): a __Secure- cookie needs Secure, a __Host- one also
      // Path=/ and no Domain; otherwise it is not stored at all.
      if (/^__(secure|host)-/i.test(name) && !flags.includes('secure')) continue;
      if (/^__host-/i.test(name) && (path !== '/' || flags.some((a) => a.startsWith('domain=')))) continue;
      const expired = attributes.some((a) => /^max-age=0$/i.test(a.trim()) || /^expires=thu, 01 jan 1970/i.test(a.trim()));
      const key = `${name};${path}`;
      if (expired || value === '') jar.delete(key);
      else jar.set(key, { name, value, path });
    }
  }

  /** One request, no redirects followed. */
  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url, this.origin);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(target);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    this.#store(target.origin, response.headers);
    return response;
  }

  /**
   * Follows redirects through the server (and the origins it was told to follow). Returns the
   * page it lands on, or `{ status: 3xx, url }` when a redirect leaves them (the client's callback).
   */
  async navigate(url: string | URL, init: RequestInit = {}, stopAt?: (next: URL) => boolean): Promise<PageResult> {
    let response = await this.request(url, init);
    let current = new URL(url, this.origin);
    for (let hops = 0; hops < 15 && response.status >= 300 && response.status < 400; hops += 1) {
      const next = new URL(response.headers.get('location')!, current);
      if (!this.#follow.has(next.origin) || stopAt?.(next)) {
        return { status: response.status, url: next.href, html: '', headers: response.headers };
      }
      current = next;
      response = await this.request(next);
    }
    return { status: response.status, url: current.href, html: await response.text(), headers: response.headers };
  }

  /** Submits a form: fields are sent urlencoded to `action` (relative to the current page). */
  async submit(action: string, fields: Record<string, string | string[]>, from: string, stopAt?: (next: URL) => boolean): Promise<PageResult> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const item of [v].flat()) body.append(k, item);
    return this.navigate(new URL(action, from), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    }, stopAt);
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
