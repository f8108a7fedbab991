/**
 * systemd's service notification protocol (sd_notify(3)): under a unit with Type=notify, systemd
 * passes NOTIFY_SOCKET, a unix datagram socket; the service sends "READY=1" once it serves,
 * "WATCHDOG=1" more often than WatchdogSec (WATCHDOG_USEC), "STOPPING=1" when it stops, "STATUS=…"
 * for `systemctl status`. Each message is one datagram of KEY=VALUE lines.
 *
 * Node.js has no unix datagram sockets, and the npm bindings to libsystemd need a compiler and
 * libsystemd-dev on the box (and are barely maintained). `systemd-notify` exits at once, and
 * systemd < 256 may then fail to tie its message to the service. So a few lines of python3 (which
 * Debian and Raspberry Pi OS ship, and which the simulator's pty bridge needs anyway) hold the
 * socket for the life of the service: each JSON line on their stdin becomes one datagram. The unit
 * sets NotifyAccess=all because the sender is this helper, a process of the service, not its main
 * process.
 *
 * The watchdog is fed from a timer on the event loop: if the loop stalls for WatchdogSec, no ping
 * goes out and systemd restarts the service — what the watchdog is for.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const HELPER = `
import json, os, socket, sys
path = os.environ["NOTIFY_SOCKET"]
if path.startswith("@"):
    path = "\\0" + path[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for line in sys.stdin:
    try:
        s.sendto(json.loads(line).encode(), path)
    except Exception as e:
        sys.stderr.write("sd-notify: %s\\n" % e)
`;

export class SdNotify {
  #helper: ChildProcess;
  #watchdog: NodeJS.Timeout | null = null;

  private constructor(socketPath: string, python: string) {
    this.#helper = spawn(python, ['-u', '-c', HELPER], { stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, NOTIFY_SOCKET: socketPath } });
    this.#helper.on('error', () => undefined);
    this.#helper.stdin!.on('error', () => undefined);
    // The helper must not keep the process alive on its own.
    this.#helper.unref();
    (this.#helper.stdin as unknown as { unref?: () => void }).unref?.();
  }

  /** A notifier when systemd asked for one (NOTIFY_SOCKET set), else null: nothing to do. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, python = 'python3'): SdNotify | null {
    const p = env.NOTIFY_SOCKET;
    return p ? new SdNotify(p, python) : null;
  }

  /** Sends one message: KEY=VALUE lines. */
  send(fields: Record<string, string | number>): void {
    const text = Object.entries(fields)
      .map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`)
      .join('\n');
    if (this.#helper.stdin?.writable) this.#helper.stdin.write(JSON.stringify(text) + '\n');
  }

  ready(status?: string): void {
    this.send(status ? { READY: 1, STATUS: status } : { READY: 1 });
  }

  status(text: string): void {
    this.send({ STATUS: text });
  }

  stopping(status = 'stopping'): void {
    this.send({ STOPPING: 1, STATUS: status });
  }

  /**
   * Pings the watchdog at half the interval systemd set (WATCHDOG_USEC, for this process when
   * WATCHDOG_PID names it); returns the interval in ms, or null when no watchdog is configured.
   */
  startWatchdog(env: NodeJS.ProcessEnv = process.env): number | null {
    const usec = Number(env.WATCHDOG_USEC);
    if (!Number.isFinite(usec) || usec <= 0) return null;
    if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
    const everyMs = Math.max(100, Math.floor(usec / 2000));
    this.send({ WATCHDOG: 1 });
    this.#watchdog = setInterval(() => this.send({ WATCHDOG: 1 }), everyMs);
    this.#watchdog.unref();
    return everyMs;
  }

  close(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
    this.#helper.stdin?.end();
  }
}
