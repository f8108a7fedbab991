/**
 * A serial device link: opens a tty with serialport, hands every chunk to a callback, and reopens
 * after errors or hang-ups with a fixed delay, reporting its state for the node's status. Repeated
 * identical errors are reported once until the state changes.
 */
import { SerialPort } from 'serialport';

export type LinkState = { state: 'connecting' } | { state: 'open' } | { state: 'error'; reason: string } | { state: 'closed' };

export interface SerialLinkOptions {
  path: string;
  baudRate: number;
  dataBits?: 5 | 6 | 7 | 8;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
  reconnectMs?: number;
  onData: (chunk: Buffer) => void;
  onState: (s: LinkState) => void;
}

export class SerialLink {
  #port: SerialPort | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #lastError = '';

  constructor(readonly opts: SerialLinkOptions) {
    this.#open();
  }

  #open(): void {
    if (this.#closed) return;
    this.opts.onState({ state: 'connecting' });
    const port = new SerialPort({
      path: this.opts.path,
      baudRate: this.opts.baudRate,
      dataBits: this.opts.dataBits ?? 8,
      parity: this.opts.parity ?? 'none',
      stopBits: this.opts.stopBits ?? 1,
      autoOpen: false,
    });
    this.#port = port;
    port.on('data', (chunk: Buffer) => this.opts.onData(chunk));
    port.on('error', (err: Error) => this.#fail(err.message));
    port.on('close', () => this.#fail('port closed'));
    port.open((err) => {
      if (err) return this.#fail(err.message);
      this.#lastError = '';
      this.opts.onState({ state: 'open' });
    });
  }

  #fail(reason: string): void {
    if (this.#closed) return;
    if (reason !== this.#lastError) this.opts.onState({ state: 'error', reason });
    this.#lastError = reason;
    const port = this.#port;
    this.#port = null;
    if (port) {
      port.removeAllListeners();
      port.on('error', () => undefined);
      if (port.isOpen) port.close(() => undefined);
    }
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#open();
      }, this.opts.reconnectMs ?? 2000);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const port = this.#port;
    this.#port = null;
    if (port) {
      port.removeAllListeners();
      port.on('error', () => undefined);
      if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
    }
    this.opts.onState({ state: 'closed' });
  }
}
