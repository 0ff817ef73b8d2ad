/**
 * Worker thread body for PasswordHasher: bcrypt runs here so that hashing never blocks the event
 * loop nor libuv's thread pool (which oidc-provider's WebCrypto signing uses).
 */
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

interface Job {
  id: number;
  op: 'hash' | 'compare';
  password: string;
  hash?: string;
  cost?: number;
}

parentPort!.on('message', (job: Job) => {
  try {
    const result = job.op === 'hash'
      ? bcrypt.hashSync(job.password, job.cost!)
      : bcrypt.compareSync(job.password, job.hash!);
    parentPort!.postMessage({ id: job.id, result });
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message });
  }
});
