#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Probe many targets at once from one network namespace, for the
NetworkPolicy truth table: netpol_probe.py TIMEOUT [--src IP] PROTO:IP:PORT...
TCP: connect, "whoami", an answer line; UDP: a datagram (sent up to three
times within TIMEOUT), an answer. Prints one JSON object
{"PROTO:IP:PORT": answer or null}. Standard library only; every probe on a
thread of its own, so the whole run takes about TIMEOUT.

netpol_probe.py serve NAME PORT...: answer NAME on TCP and UDP on each
port, with a listen backlog for a whole matrix of clients connecting at
once (a short one drops SYNs, which then wait a second for their resend).
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


BACKLOG = 512


def serve(name, ports):
    def tcp_loop(ls):
        while True:
            c, _ = ls.accept()
            threading.Thread(target=tcp_conn, args=(c,), daemon=True).start()

    def tcp_conn(c):
        try:
            c.settimeout(10)
            f = c.makefile("rb")
            while f.readline():
                c.sendall(name.encode() + b"\n")
        except OSError:
            pass
        finally:
            c.close()

    def udp_loop(us):
        while True:
            _, addr = us.recvfrom(512)
            us.sendto(name.encode(), addr)

    for port in ports:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("0.0.0.0", port))
        ls.listen(BACKLOG)
        us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        us.bind(("0.0.0.0", port))
        threading.Thread(target=tcp_loop, args=(ls,), daemon=True).start()
        threading.Thread(target=udp_loop, args=(us,), daemon=True).start()
    threading.Event().wait()


def main():
    args = sys.argv[1:]
    if args and args[0] == "serve":
        serve(args[1], [int(p) for p in args[2:]])
        return
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
