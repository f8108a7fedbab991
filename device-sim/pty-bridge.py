#!/usr/bin/env python3
"""A pseudo-terminal pair for simulated serial devices, with nothing to install.

Opens a pty, puts the slave side in raw mode at once (no echo, no line editing, so bytes pass
untouched until the reader configures the port itself), and keeps the slave open so the pty never
hangs up while a reader closes and reopens it. Prints {"path": "/dev/pts/N"} as the first line on
stdout, then relays: stdin -> master (what the device sends) and master -> stdout (what the reader
writes back). Exits when stdin closes or on SIGTERM.
"""
import fcntl
import json
import os
import select
import signal
import sys
import termios
import tty


def lockable(path: str) -> bool:
    """Whether a reader could take the tty's exclusive lock (serialport locks what it opens)."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def open_pair():
    """A pty pair whose slave can be locked. On a shared machine a process that leaked a locked
    descriptor on an old pty can leave its number locked for the next pty that gets it: such pairs are
    skipped (held until a good one is found, so the number is not handed out again at once)."""
    skipped = []
    try:
        for _ in range(64):
            master, slave = os.openpty()
            if lockable(os.ttyname(slave)):
                return master, slave
            skipped.append((master, slave))
        raise SystemExit("no lockable pseudo-terminal after 64 tries")
    finally:
        for m, s in skipped:
            os.close(m)
            os.close(s)


def main() -> int:
    master, slave = open_pair()
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON)
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    path = os.ttyname(slave)
    out = sys.stdout.buffer
    out.write((json.dumps({"path": path}) + "\n").encode())
    out.flush()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # A terminal Ctrl-C reaches the whole process group; the simulator that owns this bridge decides
    # when it ends (by closing stdin), so SIGINT is ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin = sys.stdin.buffer.fileno()
    stdout = out.fileno()
    open_in = True
    while open_in:
        readable, _, _ = select.select([stdin, master], [], [])
        if stdin in readable:
            data = os.read(stdin, 65536)
            if not data:
                open_in = False
                break
            view = memoryview(data)
            while view:
                n = os.write(master, view)
                view = view[n:]
        if master in readable:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if data:
                os.write(stdout, data)
    os.close(master)
    os.close(slave)
    return 0


if __name__ == "__main__":
    sys.exit(main())
