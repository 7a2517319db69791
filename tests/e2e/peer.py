#!/usr/bin/env python3
"""Traffic peer of berth's end-to-end tests: the backend server and the client probes.

Server (one per backend pod):
  peer.py serve NAME [--tcp PORT] [--udp PORT] [--ready FILE]
    TCP, one line per request: "whoami" -> NAME, "echo X" -> X,
    "stream BYTES CHUNK DELAY_MS" -> BYTES bytes of the test pattern in CHUNK
    byte writes DELAY_MS apart, then the server closes the connection.
    UDP: any datagram is answered with NAME.

Clients (in the client pod); each prints one JSON object on stdout:
  peer.py conns N HOST PORT       N sequential connections, "whoami" on each;
                                  exit 0 when every one got an answer (gives
                                  up after --max-errors failures; --sport
                                  fixes the source port)
  peer.py hold HOST PORT --name-file F --go-file G
                                  one connection: whoami, write the name to F,
                                  wait for G to exist, then echo and whoami on
                                  the same connection; exit 0 when both answer
  peer.py stream HOST PORT BYTES CHUNK DELAY_MS [--progress F]
                                  receive a stream, verify every byte and the
                                  total; exit 0 only when complete and correct
  peer.py connect HOST PORT       one TCP connect; reports connected, refused
                                  or timeout and how long it took (exit 0)
  peer.py udp N HOST PORT         N datagrams, each from a new connected socket;
                                  counts answers per backend, refusals (ICMP
                                  port unreachable) and timeouts (exit 0)
Python standard library only.
"""

import argparse
import json
import os
import random
import socket
import socketserver
import sys
import threading
import time

# The stream pattern: a pseudo-random block of prime length, repeated, so a
# lost, duplicated or reordered piece shows up as a mismatch.
PERIOD = 65521
BLOCK = random.Random(0xBE27).randbytes(PERIOD)


def pattern(off, n):
    out = bytearray()
    while n > 0:
        i = off % PERIOD
        k = min(n, PERIOD - i)
        out += BLOCK[i : i + k]
        off += k
        n -= k
    return bytes(out)


def write_atomic(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def emit(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


# ---- server -------------------------------------------------------------


class TCPHandler(socketserver.StreamRequestHandler):
    def handle(self):
        name = self.server.peer_name
        for raw in self.rfile:
            line = raw.decode(errors="replace").rstrip("\r\n")
            cmd, _, arg = line.partition(" ")
            if cmd == "whoami":
                self.wfile.write(name.encode() + b"\n")
            elif cmd == "echo":
                self.wfile.write(arg.encode() + b"\n")
            elif cmd == "stream":
                self.stream(arg)
                return
            else:
                self.wfile.write(b"error unknown command\n")
            self.wfile.flush()

    def stream(self, arg):
        try:
            total, chunk, delay_ms = (int(x) for x in arg.split())
        except ValueError:
            self.wfile.write(b"error usage: stream BYTES CHUNK DELAY_MS\n")
            return
        off = 0
        while off < total:
            n = min(chunk, total - off)
            self.wfile.write(pattern(off, n))
            self.wfile.flush()
            off += n
            if delay_ms and off < total:
                time.sleep(delay_ms / 1000.0)


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        _, sock = self.request
        sock.sendto(self.server.peer_name.encode(), self.client_address)


def serve(a):
    servers = []
    if a.tcp:
        servers.append(TCPServer(("0.0.0.0", a.tcp), TCPHandler))
    if a.udp:
        servers.append(socketserver.UDPServer(("0.0.0.0", a.udp), UDPHandler))
    if not servers:
        sys.exit("serve: give --tcp and/or --udp")
    for s in servers:
        s.peer_name = a.name
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if a.ready:
        write_atomic(a.ready, a.name + "\n")
    threading.Event().wait()


# ---- clients ------------------------------------------------------------


def ask(f, sock, line):
    """Send one request line, return the answer line ("" on EOF)."""
    sock.sendall(line.encode() + b"\n")
    return f.readline().decode(errors="replace").rstrip("\r\n")


def conns(a):
    counts, errors, samples = {}, 0, []
    for i in range(a.n):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(a.timeout)
                if a.sport:
                    # the same source port again (past TIME_WAIT of our own
                    # earlier connection to another destination)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("0.0.0.0", a.sport))
                s.connect((a.host, a.port))
                with s.makefile("rb") as f:
                    name = ask(f, s, "whoami")
            if not name:
                raise OSError("closed without an answer")
            counts[name] = counts.get(name, 0) + 1
        except OSError as e:
            errors += 1
            if len(samples) < 5:
                samples.append(f"connection {i}: {e!r}")
            if errors >= a.max_errors:
                samples.append(f"gave up after {errors} errors, {i + 1} of {a.n} connections")
                break
    emit({"counts": counts, "errors": errors, "samples": samples})
    return 0 if errors == 0 else 1


def hold(a):
    res = {"ok": False, "backend": None, "echo": None, "whoami_after": None, "error": None}
    try:
        with socket.create_connection((a.host, a.port), timeout=a.timeout) as s:
            with s.makefile("rb") as f:
                res["backend"] = ask(f, s, "whoami")
                if not res["backend"]:
                    raise OSError("closed without an answer")
                write_atomic(a.name_file, res["backend"] + "\n")
                deadline = time.monotonic() + a.wait
                while not os.path.exists(a.go_file):
                    if time.monotonic() > deadline:
                        raise OSError(f"{a.go_file} did not appear within {a.wait}s")
                    time.sleep(0.05)
                res["echo"] = ask(f, s, "echo still-here")
                res["whoami_after"] = ask(f, s, "whoami")
        res["ok"] = res["echo"] == "still-here" and res["whoami_after"] == res["backend"]
        if not res["ok"]:
            res["error"] = "wrong answers on the held connection"
    except OSError as e:
        res["error"] = repr(e)
    emit(res)
    return 0 if res["ok"] else 1


def stream(a):
    res = {"ok": False, "bytes": 0, "expected": a.bytes, "error": None, "seconds": 0.0}
    t0 = time.monotonic()
    last_progress = 0.0
    got = 0
    buf = bytearray(1 << 16)
    view = memoryview(buf)
    try:
        with socket.create_connection((a.host, a.port), timeout=a.timeout) as s:
            s.sendall(f"stream {a.bytes} {a.chunk} {a.delay_ms}\n".encode())
            while got < a.bytes:
                n = s.recv_into(view)
                if n == 0:
                    raise OSError(f"connection closed after {got} of {a.bytes} bytes")
                if view[:n] != pattern(got, n):
                    raise OSError(f"wrong data in bytes {got}..{got + n}")
                got += n
                now = time.monotonic()
                if a.progress and now - last_progress > 0.1:
                    write_atomic(a.progress, f"{got}\n")
                    last_progress = now
            s.settimeout(2)
            extra = s.recv(1)
            if extra:
                raise OSError(f"more than {a.bytes} bytes received")
        res["ok"] = True
    except OSError as e:
        res["error"] = repr(e)
    res["bytes"] = got
    res["seconds"] = round(time.monotonic() - t0, 3)
    if a.progress:
        write_atomic(a.progress, f"{got}\n")
    emit(res)
    return 0 if res["ok"] else 1


def connect(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    t0 = time.monotonic()
    try:
        s.connect((a.host, a.port))
        result = "connected"
    except ConnectionRefusedError:
        result = "refused"
    except socket.timeout:
        result = "timeout"
    except OSError as e:
        result = f"error {e!r}"
    finally:
        s.close()
    emit({"result": result, "seconds": round(time.monotonic() - t0, 3)})
    return 0


def udp(a):
    counts, refused, timeouts, errors = {}, 0, 0, []
    for _ in range(a.n):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(a.timeout)
            try:
                s.connect((a.host, a.port))
                s.send(b"whoami")
                name = s.recv(2048).decode(errors="replace")
                counts[name] = counts.get(name, 0) + 1
            except ConnectionRefusedError:
                refused += 1
            except socket.timeout:
                timeouts += 1
            except OSError as e:
                if len(errors) < 5:
                    errors.append(repr(e))
    emit({"counts": counts, "refused": refused, "timeouts": timeouts, "errors": errors})
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)

    s = sub.add_parser("serve")
    s.add_argument("name")
    s.add_argument("--tcp", type=int)
    s.add_argument("--udp", type=int)
    s.add_argument("--ready")
    s.set_defaults(fn=serve)

    s = sub.add_parser("conns")
    s.add_argument("n", type=int)
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--timeout", type=float, default=3.0)
    s.add_argument("--max-errors", type=int, default=3, help="give up after this many")
    s.add_argument("--sport", type=int, help="source port of every connection")
    s.set_defaults(fn=conns)

    s = sub.add_parser("hold")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--name-file", required=True)
    s.add_argument("--go-file", required=True)
    s.add_argument("--wait", type=float, default=60.0, help="longest wait for the go file (s)")
    s.add_argument("--timeout", type=float, default=5.0)
    s.set_defaults(fn=hold)

    s = sub.add_parser("stream")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("bytes", type=int)
    s.add_argument("chunk", type=int)
    s.add_argument("delay_ms", type=int)
    s.add_argument("--progress")
    s.add_argument("--timeout", type=float, default=20.0, help="longest stall (s)")
    s.set_defaults(fn=stream)

    s = sub.add_parser("connect")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--timeout", type=float, default=3.0)
    s.set_defaults(fn=connect)

    s = sub.add_parser("udp")
    s.add_argument("n", type=int)
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--timeout", type=float, default=1.0)
    s.set_defaults(fn=udp)

    a = p.parse_args()
    sys.exit(a.fn(a))


if __name__ == "__main__":
    main()
