#!/usr/bin/env python3
"""inotify benchmark: letrace vs `inotifywait -m -r` on the same workloads, in one run.

1. Churn: create+write, rename, chmod, delete of N files (default 20,000) in a fresh
   directory, untraced, under letrace, and under inotifywait. For each: events captured vs
   expected (8 per file), overflows, wall time of the churn, slowdown vs untraced.
2. Set-up: time until recursive watches are in place on a 100,000-file tree of 1,111
   directories (letrace's "recording" line vs inotifywait's "Watches established.").

Usage: cargo build --release && python3 bench/inotify.py [--files N] [--rounds R]
Needs: inotify-tools (apt-get install inotify-tools).
"""
import argparse, collections, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LETRACE = os.path.join(ROOT, "target/release/letrace")
TYPES = ["CREATE", "OPEN", "MODIFY", "CLOSE_WRITE", "MOVED_FROM", "MOVED_TO", "ATTRIB", "DELETE"]


def churn(d, n):
    t0 = time.perf_counter()
    for i in range(n):
        p = os.path.join(d, "f%06d" % i)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # CREATE OPEN
        os.write(fd, b"x")  # MODIFY
        os.close(fd)  # CLOSE_WRITE
        q = p + ".r"
        os.rename(p, q)  # MOVED_FROM MOVED_TO
        os.chmod(q, 0o600)  # ATTRIB
        os.unlink(q)  # DELETE
    return time.perf_counter() - t0


def wait_line(proc, needle, timeout=120):
    """Reads proc.stderr until a line contains needle; returns the seconds it took."""
    t0 = time.perf_counter()
    while True:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("process ended before %r" % needle)
        if needle in line:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError("timeout waiting for %r" % needle)


def run_letrace(d, out, ready_only=False):
    p = subprocess.Popen([LETRACE, "record", "-s", "inotify:%s,recursive" % d, "-o", out],
                         stderr=subprocess.PIPE, text=True)
    setup = wait_line(p, "letrace: recording")
    return p, setup


def run_inotifywait(d, out):
    p = subprocess.Popen(["inotifywait", "-m", "-r", "-q", "--format", "%e %w%f", "-o", out, d],
                         stderr=subprocess.PIPE, text=True)
    # -q hides "Watches established."; without -q it is printed after the watches are set.
    return p, None


def run_inotifywait_verbose(d, out):
    p = subprocess.Popen(["inotifywait", "-m", "-r", "--format", "%e %w%f", "-o", out, d],
                         stderr=subprocess.PIPE, text=True)
    setup = wait_line(p, "Watches established")
    return p, setup


def stop(p, settle=1.0):
    time.sleep(settle)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=120)[1]
    return err


def count_letrace(path, d):
    got, overflow, lost = collections.Counter(), 0, 0
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "LOST":
                overflow += 1
                lost += e["lost"]
                continue
            if e.get("file", {}).get("path", "").startswith(d + "/"):
                got[e["type"][3:]] += 1
    return got, overflow


def count_inotifywait(path, d):
    got, overflow = collections.Counter(), 0
    with open(path) as f:
        for line in f:
            ev, _, p = line.rstrip("\n").partition(" ")
            flags = ev.split(",")
            if "Q_OVERFLOW" in flags:
                overflow += 1
                continue
            if p.startswith(d + "/") and not "ISDIR" in flags:
                for fl in flags:
                    got[fl] += 1
    return got, overflow


def bench_churn(n, rounds):
    rows = collections.defaultdict(list)
    results = {}
    for r in range(rounds):
        for tool in ["untraced", "letrace", "inotifywait"]:
            base = tempfile.mkdtemp(prefix="letrace-bench-")
            d = os.path.join(base, "churn")
            os.mkdir(d)
            out = os.path.join(base, "out.jsonl" if tool == "letrace" else "out.txt")
            p = None
            if tool == "letrace":
                p, _ = run_letrace(d, out)
            elif tool == "inotifywait":
                p, _ = run_inotifywait_verbose(d, out)
            wall = churn(d, n)
            rows[tool].append(wall)
            if p:
                stop(p)
                got, ov = (count_letrace if tool == "letrace" else count_inotifywait)(out, d)
                results[tool] = (sum(got[t] for t in TYPES), ov, got)
            shutil.rmtree(base)
    base_t = statistics.median(rows["untraced"])
    print("churn: %d files x (create+write, rename, chmod, delete), expected %d events per tool, median of %d rounds"
          % (n, 8 * n, rounds))
    print("%-12s %10s %10s %10s %9s %9s" % ("tool", "captured", "expected", "overflows", "wall s", "slowdown"))
    for tool in ["untraced", "letrace", "inotifywait"]:
        t = statistics.median(rows[tool])
        cap, ov = (results[tool][0], results[tool][1]) if tool in results else ("-", "-")
        print("%-12s %10s %10s %10s %9.3f %8.2fx" % (tool, cap, 8 * n if tool != "untraced" else "-", ov, t, t / base_t))
    for tool in ["letrace", "inotifywait"]:
        got = results[tool][2]
        missing = {t: n - got[t] for t in TYPES if got[t] != n}
        if missing:
            print("  %s: per-type shortfall %s" % (tool, missing))


def build_tree(root):
    files = 0
    for a in range(10):
        for b in range(10):
            for c in range(10):
                d = os.path.join(root, "d%d" % a, "d%d" % b, "d%d" % c)
                os.makedirs(d)
                for i in range(100):
                    open(os.path.join(d, "f%03d" % i), "wb").close()
                    files += 1
    return files


def bench_setup(rounds):
    base = tempfile.mkdtemp(prefix="letrace-tree-")
    tree = os.path.join(base, "tree")
    files = build_tree(tree)
    dirs = sum(1 for _ in os.walk(tree))
    times = collections.defaultdict(list)
    for r in range(rounds):
        for tool in ["letrace", "inotifywait"]:
            out = os.path.join(base, "setup.jsonl" if tool == "letrace" else "setup.txt")
            if tool == "letrace":
                p, t = run_letrace(tree, out)
            else:
                p, t = run_inotifywait_verbose(tree, out)
            times[tool].append(t)
            stop(p, settle=0.1)
    shutil.rmtree(base)
    lt, it = statistics.median(times["letrace"]), statistics.median(times["inotifywait"])
    print("\nrecursive watch set-up: %d files, %d directories, median of %d rounds (warm cache)" % (files, dirs, rounds))
    print("%-12s %10s" % ("tool", "set-up s"))
    print("%-12s %10.3f" % ("letrace", lt))
    print("%-12s %10.3f" % ("inotifywait", it))
    print("ratio letrace/inotifywait: %.2f (below 1 = letrace faster)" % (lt / it))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if not os.path.exists(LETRACE):
        sys.exit("build first: cargo build --release")
    if not shutil.which("inotifywait"):
        sys.exit("needs inotifywait: apt-get install inotify-tools")
    bench_churn(a.files, a.rounds)
    bench_setup(a.rounds)


if __name__ == "__main__":
    main()
