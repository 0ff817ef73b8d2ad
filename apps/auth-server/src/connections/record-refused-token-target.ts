/**
 * A `code_exchange` or `refresh` refused `invalid_target` in front of the provider
 * (http/prepare-oauth-request.ts refuses a resource other than ours before the provider would
 * consume the code or refresh token), so no provider event tells of it. The provider has not looked
 * the client up either: its client_id is looked up before it is recorded (set-apart-unknown-clients.ts).
 */
import type { Context } from 'koa';
import { resourceMismatch } from './explain-token-refusal.ts';
import { originAndPath } from './origin-and-path.ts';
import { requestFacts } from './request-facts.ts';
import type { UnresolvedClientRecorder } from './set-apart-unknown-clients.ts';

export type TargetRefusalListener = (ctx: Context, params: URLSearchParams) => void;

export function recordRefusedTokenTarget(recorder: UnresolvedClientRecorder, expectedResource: string): TargetRefusalListener {
  return function recordTokenTargetRefusal(ctx, params) {
    const grantType = params.get('grant_type');
    const step = grantType === 'authorization_code' ? 'code_exchange' : grantType === 'refresh_token' ? 'refresh' : undefined;
    if (!step) return;
    const resource = params.getAll('resource').find((value) => value !== expectedResource) ?? undefined;
    recorder.recordUnresolved({
      step,
      outcome: 'refused',
      error: 'invalid_target',
      ...resourceMismatch({ resource, expectedResource }),
      clientId: params.get('client_id') ?? undefined,
      redirectUri: originAndPath(params.get('redirect_uri')),
      resource: originAndPath(resource),
      ...requestFacts(ctx),
    });
  };
}
