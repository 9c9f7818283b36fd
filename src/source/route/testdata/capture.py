#!/usr/bin/env python3
"""Captures what the kernel sends on NETLINK_ROUTE, for the decoder's tests.

Run as root: python3 capture.py OUTDIR. It makes its own network namespace, subscribes to
RTMGRP_LINK|IPV4_IFADDR|IPV6_IFADDR|IPV4_ROUTE|IPV6_ROUTE inside it, makes a veth pair, sets
addresses, brings links up and down, adds and deletes routes, deletes the pair, and writes
every recv() buffer, concatenated, to OUTDIR/monitor.bin. Before deleting the IPv6 address and
the pair it dumps links, addresses and routes (RTM_GETLINK/GETADDR/GETROUTE with NLM_F_DUMP)
and writes the replies to dump.bin.
"""
import os, socket, struct, subprocess, sys, time

NS = "letrace-capture"
GROUPS = 0x1 | 0x10 | 0x100 | 0x40 | 0x400

def ip(*args):
    subprocess.run(["ip", *args], check=True)

def drain(s, out):
    s.setblocking(False)
    while True:
        try:
            out.append(s.recv(65536))
        except BlockingIOError:
            return

def dump(s, msg_type, body, seq, out):
    hdr = struct.pack("=IHHII", 16 + len(body), msg_type, 0x1 | 0x300, seq, 0)
    s.send(hdr + body)
    s.setblocking(True)
    while True:
        buf = s.recv(65536)
        out.append(buf)
        off = 0
        while off + 16 <= len(buf):
            ln, ty = struct.unpack_from("=IH", buf, off)
            if ty == 3:  # NLMSG_DONE
                return
            off += (ln + 3) & ~3

def inside(outdir):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, GROUPS))
    bufs = []
    ip("link", "add", "cap0", "type", "veth", "peer", "name", "cap1")
    ip("addr", "add", "10.99.0.1/24", "dev", "cap0")
    ip("addr", "add", "fd99::1/64", "dev", "cap0", "nodad")
    ip("link", "set", "cap0", "up")
    ip("link", "set", "cap1", "up")
    ip("route", "add", "10.98.0.0/16", "via", "10.99.0.2", "dev", "cap0")
    ip("-6", "route", "add", "fd98::/64", "dev", "cap0")
    time.sleep(0.2)
    drain(s, bufs)
    ip("route", "del", "10.98.0.0/16")
    ip("-6", "route", "del", "fd98::/64")
    ip("link", "set", "cap1", "down")
    ip("addr", "del", "10.99.0.1/24", "dev", "cap0")
    time.sleep(0.2)
    drain(s, bufs)
    d = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    dumps = []
    dump(d, 18, bytes(16), 1, dumps)  # RTM_GETLINK, struct ifinfomsg
    dump(d, 22, bytes(8), 2, dumps)   # RTM_GETADDR, struct ifaddrmsg
    dump(d, 26, bytes(12), 3, dumps)  # RTM_GETROUTE, struct rtmsg
    ip("addr", "del", "fd99::1/64", "dev", "cap0")
    ip("link", "del", "cap0")
    time.sleep(0.2)
    drain(s, bufs)
    with open(os.path.join(outdir, "monitor.bin"), "wb") as f:
        f.write(b"".join(bufs))
    with open(os.path.join(outdir, "dump.bin"), "wb") as f:
        f.write(b"".join(dumps))

def main():
    if sys.argv[1] == "--inside":
        inside(sys.argv[2])
        return
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", NS, sys.executable, __file__, "--inside",
                        os.path.abspath(sys.argv[1])], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=True)

main()
