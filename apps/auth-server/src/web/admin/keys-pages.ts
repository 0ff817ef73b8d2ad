/** Admin pages: signing keys (list, rotate, retire). */
import type { AdminServices } from '../../management/admin-services.ts';
import { describeKey } from '../../management/describe-key.ts';
import { done, field, formatTime, requiredField, type Handler, type RenderPage } from '../page-handler.ts';

export function keysPages(services: AdminServices, renderPage: RenderPage): Record<string, Handler> {
  return {
    async listKeys(request) {
      const keys = (await services.keys.list()).map((k) => describeKey(k, formatTime));
      renderPage(request, 'admin/keys.njk', 'Signing keys', 'keys', { keys });
    },

    async rotateKeys(request) {
      // The key the page showed as next: a second post of the same form finds it signing already.
      await services.keys.rotate(request.by, requiredField(request.form, 'next_kid', 'The next key'));
      done(request.ctx, '/admin/keys', 'key_rotated');
    },

    async retireKey(request) {
      await services.keys.retire(requiredField(request.form, 'kid', 'A key id'), { force: field(request.form, 'confirm') === 'yes' }, request.by);
      done(request.ctx, '/admin/keys', 'key_retired');
    },
  };
}
