/**
 * Whether a URI matches a URI template (RFC 6570) exactly as the MCP SDK's `UriTemplate.match`
 * decides it, in time linear in the URI's length (times the template's parts).
 *
 * Why: the SDK builds a backtracking regular expression from the template (`{+x}` is `(.+)`,
 * `{x}` is `([^/,]+)`) and runs it on the caller's URI, which the gateway does before any scope is
 * checked, up to three times per `resources/read` and once per message of a batch. Adjacent
 * expressions make its time a power of the URI's length: `repo://{+owner}/{+repo}/{+path}` held
 * the event loop (every user's requests) for about 0.2 s on one 1 KB URI, 21 s for a batch of
 * them; `x://{+a}{+b}{+c}{+d}` for 84 s on one.
 *
 * How: the template is the SDK's own parse (the same parts, so the same language), and each part
 * becomes a literal or a run of one or more characters of a class. Matching keeps the set of URI
 * positions each part can end at, one pass over the URI per part (what a regex engine without
 * backtracking does). The SDK's patterns, part by part:
 * - text: itself;
 * - `{x}`: `[^/,]+`, exploded `{x*}`: `[^/,]+(?:,[^/,]+)*`;
 * - `{+x}`, `{#x}`: `.+` (any character but a line terminator);
 * - `{.x}`: `\.` then `[^/,]+`; `{/x}`: `/` then as `{x}` (exploded too);
 * - `{?a,b}`, `{&a,b}`: `?a=` (or `&a=`), then `&b=`…, each followed by `[^&]+`.
 * Only the first name of a non-query expression is used, as the SDK does.
 */
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';

interface TemplatePart {
  operator: string;
  names: string[];
  exploded: boolean;
}

type Step = { literal: string } | { run: (code: number) => boolean; exploded: boolean };

const SLASH = 0x2f;
const COMMA = 0x2c;
const AMPERSAND = 0x26;
const notSlashOrComma = (code: number) => code !== SLASH && code !== COMMA;
const notSlash = (code: number) => code !== SLASH;
const notAmpersand = (code: number) => code !== AMPERSAND;
/** What `.` matches in a JavaScript regular expression without the `s` flag. */
const notLineTerminator = (code: number) => code !== 0x0a && code !== 0x0d && code !== 0x2028 && code !== 0x2029;

function stepsOf(part: string | TemplatePart): Step[] {
  if (typeof part === 'string') return [{ literal: part }];
  const { operator, names, exploded } = part;
  if (operator === '?' || operator === '&') {
    return names.flatMap((name, i) => [{ literal: `${i === 0 ? operator : '&'}${name}=` }, { run: notAmpersand, exploded: false }]);
  }
  switch (operator) {
    case '': return [{ run: notSlashOrComma, exploded }];
    case '+': case '#': return [{ run: notLineTerminator, exploded: false }];
    case '.': return [{ literal: '.' }, { run: notSlashOrComma, exploded: false }];
    case '/': return [{ literal: '/' }, { run: notSlashOrComma, exploded }];
    default: return [{ run: notSlash, exploded: false }];
  }
}

export class UriTemplateMatcher {
  readonly #steps: Step[];

  /** Throws as the SDK's UriTemplate does for a template it cannot parse. */
  constructor(template: string) {
    const parsed = new UriTemplate(template) as unknown as { parts: Array<string | TemplatePart> };
    this.#steps = parsed.parts.flatMap(stepsOf);
  }

  matches(uri: string): boolean {
    // Most templates begin with a scheme of their own: the other URIs are told apart at once.
    const [first] = this.#steps;
    if (first && 'literal' in first && !uri.startsWith(first.literal)) return false;
    const n = uri.length;
    // ends[p] is 1 when some match of the parts so far ends at position p.
    let ends: Uint8Array = new Uint8Array(n + 1);
    ends[0] = 1;
    for (const step of this.#steps) {
      const next = 'literal' in step ? endsOfLiteral(uri, ends, step.literal) : endsOfRun(uri, ends, step.run, step.exploded);
      if (!next.includes(1)) return false;
      ends = next;
    }
    return ends[n] === 1;
  }
}

function endsOfLiteral(uri: string, ends: Uint8Array, literal: string): Uint8Array {
  const next = new Uint8Array(ends.length);
  for (let p = 0; p + literal.length < ends.length; p++) {
    if (ends[p] === 1 && uri.startsWith(literal, p)) next[p + literal.length] = 1;
  }
  return next;
}

/**
 * One or more characters of the class, from any position a previous part ended at; exploded,
 * words of the class separated by single commas (`[^/,]+(?:,[^/,]+)*`).
 */
function endsOfRun(uri: string, ends: Uint8Array, inClass: (code: number) => boolean, exploded: boolean): Uint8Array {
  const next = new Uint8Array(ends.length);
  let inWord = false;
  let afterComma = false;
  for (let q = 1; q < ends.length; q++) {
    const code = uri.charCodeAt(q - 1);
    const startsOrGoesOn: boolean = ends[q - 1] === 1 || inWord || (exploded && afterComma);
    afterComma = exploded && code === COMMA && inWord;
    inWord = inClass(code) && startsOrGoesOn;
    if (inWord) next[q] = 1;
  }
  return next;
}
