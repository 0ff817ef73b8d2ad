/**
 * An output stream for the CLI run in-process: keeps the text written to it, and `until(pattern)`
 * resolves as soon as a write makes the text match, so tests wait for output instead of sleeping.
 */
import { Writable } from 'node:stream';

export class CapturedOutput extends Writable {
  text = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += String(chunk);
    this.emit('text');
    callback();
  }

  /** Rejects after `timeoutMs` (naming the pattern and what was written) so a missing line fails the test instead of hanging it. */
  until(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pattern.test(this.text)) return;
        clearTimeout(timer);
        this.off('text', check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('text', check);
        reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms; got ${JSON.stringify(this.text)}`));
      }, timeoutMs);
      this.on('text', check);
      check();
    });
  }
}
