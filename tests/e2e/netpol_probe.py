#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Probe many targets at once from one network namespace, for the
NetworkPolicy truth table: netpol_probe.py TIMEOUT [--src IP] PROTO:IP:PORT...
TCP: connect, "whoami", an answer line; UDP: a datagram (sent up to three
times within TIMEOUT), an answer. Prints one JSON object
{"PROTO:IP:PORT": answer or null}. Standard library only; every probe on a
thread of its own, so the whole run takes about TIMEOUT.
"""
import json
import socket
import sys
import threading
import time


def tcp(ip, port, src, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if src:
            s.bind((src, 0))
        s.connect((ip, port))
        s.sendall(b"whoami\n")
        line = s.makefile("rb").readline().decode(errors="replace").strip()
        return line or None
    except OSError:
        return None
    finally:
        s.close()


def udp(ip, port, src, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end = time.monotonic() + timeout
    try:
        if src:
            s.bind((src, 0))
        s.connect((ip, port))
        for _ in range(3):
            left = end - time.monotonic()
            if left <= 0:
                break
            s.settimeout(min(left, timeout / 3))
            try:
                s.send(b"whoami")
                return s.recv(512).decode(errors="replace").strip() or None
            except socket.timeout:
                continue
        return None
    except OSError:
        return None
    finally:
        s.close()


def main():
    args = sys.argv[1:]
    timeout = float(args.pop(0))
    src = None
    if args and args[0] == "--src":
        args.pop(0)
        src = args.pop(0)
    out = {}

    def one(t):
        proto, ip, port = t.split(":")
        fn = tcp if proto == "TCP" else udp
        out[t] = fn(ip, int(port), src, timeout)

    threads = [threading.Thread(target=one, args=(t,)) for t in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * 2 + 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
