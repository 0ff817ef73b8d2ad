/**
 * An oidc-provider adapter on a plain Map, the in-memory baseline for benchmarks. Unlike
 * oidc-provider's own memory adapter (an LRU of 1,000 entries) it never evicts, so a long run
 * measures storage cost, not evictions. Not for production: nothing survives a restart.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';

export function createMapAdapter(): new (model: string) => Adapter {
  const rows = new Map<string, { payload: AdapterPayload; expiresAt: number | undefined }>();
  const byUid = new Map<string, string>();
  const byGrant = new Map<string, Set<string>>();
  const now = () => Math.floor(Date.now() / 1000);
  const visible = (key: string | undefined) => {
    const row = key === undefined ? undefined : rows.get(key);
    return row && (row.expiresAt === undefined || row.expiresAt > now()) ? structuredClone(row.payload) : undefined;
  };

  return class MapAdapter implements Adapter {
    constructor(private readonly model: string) {}
    #key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      const key = this.#key(id);
      rows.set(key, { payload: structuredClone(payload), expiresAt: expiresIn === undefined ? undefined : now() + expiresIn });
      if (payload.uid) byUid.set(`${this.model}:${payload.uid}`, key);
      if (payload.grantId) {
        const members = byGrant.get(payload.grantId) ?? new Set();
        members.add(key);
        byGrant.set(payload.grantId, members);
      }
    }
    async find(id: string) {
      return visible(this.#key(id));
    }
    async findByUid(uid: string) {
      return visible(byUid.get(`${this.model}:${uid}`));
    }
    async findByUserCode() {
      return undefined;
    }
    async consume(id: string) {
      const row = rows.get(this.#key(id));
      if (row) row.payload.consumed = now();
    }
    async destroy(id: string) {
      rows.delete(this.#key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const key of byGrant.get(grantId) ?? []) rows.delete(key);
      byGrant.delete(grantId);
    }
  };
}
