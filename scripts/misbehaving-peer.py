#!/usr/bin/env python3
"""A libvirt peer on 127.0.0.1 that misbehaves, for scripts/stress-sanitizers.sh.

    misbehaving-peer.py MODE PORT [UNIX_SOCKET]

MODE:
  reset-first  read the client's first byte, then reset the connection (RST)
  reset-random forward to UNIX_SOCKET (a real libvirtd) and reset after a random number of
               bytes in either direction (so any point of the exchange: handshake, auth,
               open, a call, a reply half-sent)
  silent       accept, read everything, never answer, never close
  reset-late   read everything, never answer, reset after 0.2-0.4 s: around a -t 0.3
               deadline, so the client's thread ends just as the process exits
  slow         forward to UNIX_SOCKET, each direction trickled in 64-byte pieces 20 ms apart
Runs until killed. Each connection has its own thread.
"""

import random
import select
import socket
import struct
import sys
import threading
import time


def reset(sock):
    # SO_LINGER 0: close() sends RST instead of FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def reset_first(client, _target):
    client.recv(1)
    reset(client)


def silent(client, _target):
    while client.recv(65536):
        pass
    client.close()


def reset_late(client, _target):
    client.settimeout(random.uniform(0.2, 0.4))
    try:
        while client.recv(65536):
            pass
    except socket.timeout:
        pass
    reset(client)


def forward(client, target, budget, delay):
    """Copies both ways; resets both sides once `budget` bytes passed (None: never)."""
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(target)
    except OSError:
        reset(client)
        return
    other = {client: upstream, upstream: client}
    passed = 0
    try:
        while True:
            readable, _, _ = select.select(list(other), [], [])
            for src in readable:
                data = src.recv(64 if delay else 65536)
                if not data:
                    return
                if budget is not None and passed + len(data) > budget:
                    other[src].sendall(data[: budget - passed])
                    return
                passed += len(data)
                if delay:
                    time.sleep(delay)
                other[src].sendall(data)
    except OSError:
        pass
    finally:
        reset(client)
        reset(upstream)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    target = sys.argv[3] if len(sys.argv) > 3 else None
    handlers = {
        "reset-first": reset_first,
        "silent": silent,
        "reset-late": reset_late,
        "reset-random": lambda c, t: forward(
            c, t, random.randint(0, random.choice([64, 256, 1024, 4096])), 0
        ),
        "slow": lambda c, t: forward(c, t, None, 0.02),
    }
    handler = handlers[mode]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(128)
    while True:
        client, _ = server.accept()
        threading.Thread(target=handler, args=(client, target), daemon=True).start()


if __name__ == "__main__":
    main()
