/**
 * The key store of the embedded setup: KEYS_DIR/signing-keys.json and cookie-keys.json, mode
 * 0600, written atomically (signing-keys.ts). One process serves, so the file is the whole story;
 * the CLI changes it beside a running server, which notices through `watch` (the file's
 * modification time, polled).
 */
import { unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { KeyStore } from './key-store.ts';
import {
  loadOrCreateCookieKeys, loadOrCreateSigningKeys, readSigningKeys, rotateSigningKeys, writeSigningKeys, type StoredKey,
} from './signing-keys.ts';

export class FileKeyStore implements KeyStore {
  readonly location: string;

  /** `clock` stamps key creation and rotation. */
  constructor(private readonly keysDir: string, private readonly clock: Clock = systemClock) {
    this.location = keysDir;
  }

  async loadOrCreateSigningKeys(): Promise<{ keys: StoredKey[]; created: boolean }> {
    return loadOrCreateSigningKeys(this.keysDir, this.clock);
  }

  async readSigningKeys(): Promise<StoredKey[]> {
    return readSigningKeys(this.keysDir);
  }

  rotateSigningKeys(): Promise<StoredKey[]>;
  rotateSigningKeys(onlyIfNext: string | undefined): Promise<StoredKey[] | undefined>;
  rotateSigningKeys(onlyIfNext?: string): Promise<StoredKey[] | undefined> {
    return rotateSigningKeys(this.keysDir, this.clock, onlyIfNext);
  }

  async removeRetiringKey(kid: string): Promise<boolean> {
    const keys = readSigningKeys(this.keysDir);
    const kept = keys.filter((k) => !(k.jwk.kid === kid && k.status === 'retiring'));
    if (kept.length === keys.length) return false;
    writeSigningKeys(this.keysDir, kept);
    return true;
  }

  async loadOrCreateCookieKeys(): Promise<string[]> {
    return loadOrCreateCookieKeys(this.keysDir);
  }

  watch(intervalSeconds: number, onChange: () => void): () => void {
    const file = join(this.keysDir, 'signing-keys.json');
    const listener = () => onChange();
    watchFile(file, { interval: intervalSeconds * 1000, persistent: false }, listener);
    return () => unwatchFile(file, listener);
  }
}
