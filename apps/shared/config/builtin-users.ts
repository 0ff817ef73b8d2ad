/**
 * `auth_server.builtin.users`: accounts the config file creates or updates at every start. A
 * password comes as a bcrypt hash or, by name, from an environment variable (read here, once).
 */
import * as z from 'zod';
import { ACTOR_NAME_REFUSAL, isActorName, looksLikeUserId, USER_ID_FORM_REFUSAL, USERNAME } from '../username.ts';
import { booleanish, environmentName, scopeList, whenSet, type FieldNote } from './field-schemas.ts';
import type { LoadContext } from './load-context.ts';

export function builtinUser(context: LoadContext) {
  return z.strictObject({
    username: z.string().regex(USERNAME, { error: 'expected 1-64 letters, digits or . _ @ -' })
      .refine((name) => !looksLikeUserId(name), { error: USER_ID_FORM_REFUSAL })
      .refine((name) => !isActorName(name), { error: ACTOR_NAME_REFUSAL })
      .meta({ description: 'the name to sign in with' } satisfies FieldNote),
    password_hash: z.string().regex(/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/, { error: 'expected a bcrypt hash ($2b$12$…)' }).optional()
      .meta({ description: 'a bcrypt hash (`gatehouse hash-password`)' } satisfies FieldNote),
    password_env: environmentName.optional()
      .meta({ description: 'or: the environment variable holding the password' } satisfies FieldNote),
    scopes: scopeList.default(['mcp:read'])
      .meta({ description: 'the most any token for this user can carry' } satisfies FieldNote),
    disabled: booleanish.default(false)
      .meta({ description: 'true: the user cannot sign in' } satisfies FieldNote),
  }).refine((u) => (u.password_hash === undefined) !== (u.password_env === undefined), {
    error: 'expected exactly one of password_hash or password_env',
  }).transform((user, ctx) => {
    // Hashed at boot by the auth-server (apply-configured-users), never stored as given.
    const password = user.password_env === undefined ? undefined : context.env[user.password_env];
    if (user.password_env !== undefined && !password) {
      ctx.addIssue({ code: 'custom', path: ['password_env'], message: `the environment variable ${user.password_env} is not set` });
      return z.NEVER;
    }
    if (password !== undefined && Buffer.byteLength(password) > 72) {
      ctx.addIssue({ code: 'custom', path: ['password_env'], message: `the password in ${user.password_env} is longer than 72 bytes, which bcrypt cannot use; choose a shorter one` });
      return z.NEVER;
    }
    const scopes: string[] = user.scopes;
    return {
      username: user.username,
      /** A bcrypt hash, from `password_hash`; or else `password`, hashed at boot. */
      ...whenSet('passwordHash', user.password_hash),
      ...whenSet('password', password),
      scopes,
      disabled: user.disabled,
    };
  });
}

export type BuiltinUser = z.output<ReturnType<typeof builtinUser>>;
