#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Small network tools for tests/bpf/route_netns.sh, run inside a netns.

  ping IP [COUNT]      ICMP echo over a raw socket; exit 0 if every reply came
  serve PORT NAME      TCP: answer each connection "NAME <peer ip>" (60 s max)
  connect IP PORT      print the server's line; exit 1 on failure (5 s max)
  udp-serve PORT NAME  UDP: answer each datagram "NAME <peer ip>" (60 s max)
  udp-ask IP PORT      send one datagram, print the answer (3 tries, 2 s each)
  txcsum-off IFNAME    checksums computed before sending, as a NIC on a wire
                       does (a veth leaves them partial, and XDP sees that)
"""
import ctypes
import fcntl
import os
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(ip, count=3):
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.settimeout(2)
    ident = os.getpid() & 0xFFFF
    for seq in range(1, count + 1):
        payload = b"berth-route" * 4
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq) + payload
        sock.sendto(pkt, (ip, 0))
        deadline = time.monotonic() + 2
        while True:
            if time.monotonic() > deadline:
                print("ping %s seq %d: no reply" % (ip, seq))
                return 1
            try:
                data, addr = sock.recvfrom(2048)
            except socket.timeout:
                continue
            ihl = (data[0] & 0xF) * 4
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if addr[0] == ip and typ == 0 and rid == ident and rseq == seq:
                break
    print("ping %s: %d replies" % (ip, count))
    return 0


def serve(port, name):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(16)
    srv.settimeout(60)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            conn, addr = srv.accept()
        except socket.timeout:
            break
        conn.sendall(("%s %s\n" % (name, addr[0])).encode())
        conn.close()
    return 0


def connect(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=5) as s:
            s.settimeout(5)
            print(s.recv(200).decode().strip())
    except OSError as e:
        print("connect %s:%d: %s" % (ip, port, e))
        return 1
    return 0


def udp_serve(port, name):
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("0.0.0.0", port))
    srv.settimeout(1)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            _, addr = srv.recvfrom(200)
        except socket.timeout:
            continue
        srv.sendto(("%s %s" % (name, addr[0])).encode(), addr)
    return 0


def udp_ask(ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.connect((ip, port))
        for _ in range(3):
            try:
                s.send(b"?")
                print(s.recv(200).decode().strip())
                return 0
            except OSError:
                continue
    print("udp %s:%d: no answer" % (ip, port))
    return 1


def txcsum_off(ifname):
    ETHTOOL_STXCSUM, SIOCETHTOOL = 0x17, 0x8946
    val = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    ifr = struct.pack("16sP", ifname.encode(), ctypes.addressof(val))
    with socket.socket() as s:
        fcntl.ioctl(s, SIOCETHTOOL, ifr)
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "ping":
        return ping(argv[1], int(argv[2]) if len(argv) > 2 else 3)
    if len(argv) == 3 and argv[0] == "serve":
        return serve(int(argv[1]), argv[2])
    if len(argv) == 3 and argv[0] == "connect":
        return connect(argv[1], int(argv[2]))
    if len(argv) == 3 and argv[0] == "udp-serve":
        return udp_serve(int(argv[1]), argv[2])
    if len(argv) == 3 and argv[0] == "udp-ask":
        return udp_ask(argv[1], int(argv[2]))
    if len(argv) == 2 and argv[0] == "txcsum-off":
        return txcsum_off(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
