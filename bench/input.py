#!/usr/bin/env python3
"""input benchmark: decoding throughput and completeness of `letrace record -s input:FIFO`.

There is no peer tool that reads recorded evdev streams (evtest and evemu-record need a
device), so this measures letrace alone: N records (default 1,000,000: key press/release with
MSC_SCAN, mouse motion, SYN_REPORT frames) written into a FIFO as fast as the writer can,
records captured vs expected, wall time and records per second, for JSON lines and CSV.

Usage: cargo build --release && python3 bench/input.py [--records N]
"""
import argparse, os, signal, struct, subprocess, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LETRACE = os.path.join(ROOT, "target/release/letrace")


def stream(n):
    frame = [(4, 4, 0x70004), (1, 30, 1), (0, 0, 0), (2, 0, 5), (2, 1, -3), (0, 0, 0),
             (4, 4, 0x70004), (1, 30, 0), (0, 0, 0)]
    out = bytearray()
    for i in range(n):
        t, c, v = frame[i % len(frame)]
        out += struct.pack("=qqHHi", 1795300000 + i // 1000000, i % 1000000, t, c, v)
    return bytes(out)


def run(d, data, n, ext):
    fifo = os.path.join(d, "fifo-" + ext)
    os.mkfifo(fifo)
    out = os.path.join(d, "out." + ext)
    p = subprocess.Popen([LETRACE, "record", "-s", "input:" + fifo, "-o", out],
                         stderr=subprocess.PIPE, text=True)
    while not os.path.exists(out):
        time.sleep(0.01)
    t0 = time.perf_counter()
    with open(fifo, "wb") as w:
        w.write(data)
    # Done when the output stops growing; then stop letrace and count.
    last, still = -1, 0
    while still < 5:
        time.sleep(0.05)
        size = os.path.getsize(out)
        still = still + 1 if size == last else 0
        last = size
    wall = time.perf_counter() - t0 - 0.25
    p.send_signal(signal.SIGINT)
    err = p.communicate()[1]
    with open(out, "rb") as f:
        lines = f.read().count(b"\n")
    got = lines - 1 - (1 if ext == "csv" else 0)  # DEVICE_ADDED, CSV header
    return got, wall, err.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    a = ap.parse_args()
    data = stream(a.records)
    print("input: %d records through a FIFO" % a.records)
    print("%-8s %9s %9s %8s %12s  %s" % ("format", "captured", "expected", "wall s", "records/s",
                                        "letrace's totals"))
    with tempfile.TemporaryDirectory() as d:
        for ext in ("jsonl", "csv"):
            got, wall, totals = run(d, data, a.records, ext)
            print("%-8s %9d %9d %8.2f %12.0f  %s" % (ext, got, a.records, wall, got / wall, totals))


main()
