/**
 * Every field of the configuration file with what it says about itself (its `.meta()` note), its
 * default and the env var that sets it: the source of `ENV_FIELDS` and of the README's tables.
 */
import * as z from 'zod';
import { authServerSection } from './auth-server-section.ts';
import { duration, type FieldNote } from './field-schemas.ts';
import { resourceServerSection } from './resource-server-section.ts';
import { sharedFields } from './shared-section.ts';

export interface ConfigField {
  /** Dotted path; `[]` marks the entries of a list (`auth_server.builtin.users[].username`). */
  path: string;
  note: FieldNote;
  /** A constant default as written in the file (durations as `90s`, `15m`, `1h`, `30d`); a derived one is `note.default`. */
  defaultValue?: string;
  /** A field of one entry of a list (a user, an upstream, a gateway server). */
  inList: boolean;
}

/** The whole file, both apps' sections: what is documented (each app parses its own part). */
function documentedShape() {
  const context = { env: {}, cwd: '/' };
  return { auth_server: authServerSection(context), resource_server: resourceServerSection(context), ...sharedFields(context) };
}

type Schema = z.core.$ZodType;

function formatDuration(seconds: number): string {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** Through default/optional/transform wrappers: the default (if any) and the schema that holds the fields. */
function unwrap(schema: Schema): { inner: Schema; defaultValue?: unknown; isDuration: boolean } {
  let inner = schema;
  let defaultValue: unknown;
  let isDuration = false;
  for (;;) {
    if (inner === duration) isDuration = true;
    const def = inner._zod.def as z.core.$ZodTypeDef & { innerType?: Schema; in?: Schema; defaultValue?: unknown };
    if (def.type === 'default') defaultValue = def.defaultValue;
    if (def.type === 'default' || def.type === 'prefault' || def.type === 'optional' || def.type === 'nullable') inner = def.innerType!;
    else if (def.type === 'pipe') inner = def.in!;
    else return { inner, defaultValue, isDuration };
  }
}

/** The object schemas a field's value may be made of: itself, a list's entries, a union's options. */
function objectsWithin(schema: Schema): Array<{ object: z.core.$ZodObject; inList: boolean }> {
  const { inner } = unwrap(schema);
  const def = inner._zod.def as z.core.$ZodTypeDef & { element?: Schema; options?: Schema[]; shape?: Record<string, Schema> };
  if (def.type === 'object') return [{ object: inner as z.core.$ZodObject, inList: false }];
  if (def.type === 'array') return objectsWithin(def.element!).map(({ object }) => ({ object, inList: true }));
  // One entry or a list of them (`federated`): documented as list entries.
  if (def.type === 'union') return def.options!.flatMap(objectsWithin).map(({ object }) => ({ object, inList: true }));
  return [];
}

function walk(shape: Record<string, Schema>, prefix: string, inList: boolean, into: Map<string, ConfigField>): void {
  for (const [key, schema] of Object.entries(shape)) {
    const path = `${prefix}${key}`;
    if (into.has(path)) continue;
    const note = (z.globalRegistry.get(schema) ?? { description: '' }) as FieldNote;
    const { inner, defaultValue, isDuration } = unwrap(schema);
    const isObject = (inner._zod.def.type as string) === 'object';
    const written = isObject || defaultValue === undefined ? undefined
        : isDuration ? formatDuration(defaultValue as number) : JSON.stringify(defaultValue).replace(/^"(.*)"$/, '$1');
    into.set(path, { path, note, defaultValue: written, inList });
    for (const { object, inList: entries } of objectsWithin(schema)) {
      walk(object._zod.def.shape, `${path}${entries ? '[]' : ''}.`, inList || entries, into);
    }
  }
}

export function listConfigFields(): ConfigField[] {
  const fields = new Map<string, ConfigField>();
  walk(documentedShape(), '', false, fields);
  return [...fields.values()];
}

/** Env var → the config path it sets (also how a refusal names the env var a value came from). */
export const ENV_FIELDS: Readonly<Record<string, string[]>> = Object.fromEntries(
  listConfigFields().filter((field) => field.note.env).map((field) => [field.note.env!, field.path.split('.')]),
);
