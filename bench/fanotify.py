#!/usr/bin/env python3
"""fanotify benchmark: `letrace record -s fanotify:DIR` vs `fatrace -c` on the same churn.

Churn: create+write, rename, chmod, delete of N files (default 20,000) in a fresh directory,
run untraced, under letrace and under fatrace (each tool alone, same run). For each tool:
events captured vs expected, overflows, wall time of the churn (slowdown vs untraced), and
the tracer's own CPU time.

Expected per file, in each tool's vocabulary:
- letrace: FAN_CREATE, FAN_OPEN, FAN_MODIFY, FAN_CLOSE_WRITE, FAN_RENAME, FAN_ATTRIB,
  FAN_DELETE_SELF, FAN_DELETE, each with the file's own path (8 per file). Counted as
  "files that got this type" (the kernel merges repeats of one type on one object).
- fatrace: O, W, C with the file's path (3 per file: fatrace reports create, delete and
  rename only as a flag on the *directory* (`+`, `D`, `<>`), without the name, and has no
  chmod event); its directory records are shown separately.

Both tools mark the whole filesystem, so both also see unrelated activity of the machine;
only records for the churn directory are counted.

Usage: cargo build --release && python3 bench/fanotify.py [--files N] [--rounds R]
Needs: root, fatrace (apt-get install fatrace).
"""
import argparse, collections, json, os, resource, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LETRACE = os.path.join(ROOT, "target/release/letrace")
LT_TYPES = ["CREATE", "OPEN", "MODIFY", "CLOSE_WRITE", "RENAME", "ATTRIB", "DELETE_SELF", "DELETE"]
FA_TYPES = ["O", "W", "C"]


def churn(d, n):
    t0 = time.perf_counter()
    for i in range(n):
        p = os.path.join(d, "f%06d" % i)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b"x")
        os.close(fd)
        q = p + ".r"
        os.rename(p, q)
        os.chmod(q, 0o600)
        os.unlink(q)
    return time.perf_counter() - t0


def base_name(path):
    """f000123 for .../f000123 and .../f000123.r"""
    b = os.path.basename(path)
    return b[:-2] if b.endswith(".r") else b


def wait_ready(d, out, kind, timeout=30):
    """Touches d/ready until the tool's output mentions it: the mark is in place."""
    t0 = time.time()
    ready = os.path.join(d, "ready")
    while time.time() - t0 < timeout:
        with open(ready, "w"):
            pass
        time.sleep(0.2)
        try:
            with open(out, errors="replace") as f:
                if ready in f.read():
                    os.unlink(ready)
                    return
        except FileNotFoundError:
            pass
    raise RuntimeError("%s never reported %s" % (kind, ready))


def stop(p, settle=1.5):
    time.sleep(settle)
    p.send_signal(signal.SIGINT)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = status
    return ru.ru_utime + ru.ru_stime


def count_letrace(path, d):
    files = collections.defaultdict(set)
    overflow = lost = 0
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "LOST":
                overflow += 1
                lost += e["lost"]
                continue
            p = e.get("file", {}).get("path", "")
            if os.path.dirname(p) == d and base_name(p).startswith("f"):
                files[e["type"][4:]].add(base_name(p))
    return {t: len(files[t]) for t in LT_TYPES}, overflow


def count_fatrace(path, d):
    files = collections.defaultdict(set)
    dir_records = collections.Counter()
    overflow = 0
    with open(path, errors="replace") as f:
        for line in f:
            head, _, p = line.rstrip("\n").partition(": ")
            flags, _, p = p.strip().partition(" ")
            p = p.strip()
            if "overflow" in line.lower():
                overflow += 1
            if p == d:
                for fl in flags:
                    dir_records[fl] += 1
            elif os.path.dirname(p) == d and base_name(p).startswith("f"):
                for fl in flags:
                    files[fl].add(base_name(p))
    return {t: len(files[t]) for t in FA_TYPES}, overflow, dir_records


def one(tool, n):
    base = tempfile.mkdtemp(prefix="letrace-fan-", dir="/var/tmp")
    d = os.path.join(base, "churn")
    os.mkdir(d)
    out = os.path.join(base, "out.jsonl" if tool == "letrace" else "out.txt")
    p = None
    if tool == "letrace":
        p = subprocess.Popen([LETRACE, "record", "-s", "fanotify:%s" % d, "-o", out],
                             stderr=subprocess.DEVNULL)
    elif tool == "fatrace":
        errf = open(os.path.join(base, "fatrace.err"), "w")
        p = subprocess.Popen(["fatrace", "-c", "-o", out], cwd=d, stderr=errf)
    if p:
        wait_ready(d, out, tool)
    wall = churn(d, n)
    res = {"wall": wall}
    if p:
        res["cpu"] = stop(p)
        if tool == "letrace":
            res["got"], res["overflow"] = count_letrace(out, d)
        else:
            res["got"], res["overflow"], res["dir"] = count_fatrace(out, d)
            with open(os.path.join(base, "fatrace.err"), errors="replace") as f:
                res["errors"] = collections.Counter(l.strip() for l in f if l.strip())
    shutil.rmtree(base)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (fanotify filesystem marks)")
    if not os.path.exists(LETRACE):
        sys.exit("build first: cargo build --release")
    if not shutil.which("fatrace"):
        sys.exit("needs fatrace: apt-get install fatrace")
    n = a.files
    runs = collections.defaultdict(list)
    for _ in range(a.rounds):
        for tool in ["untraced", "letrace", "fatrace"]:
            runs[tool].append(one(tool, n))
    base_t = statistics.median(r["wall"] for r in runs["untraced"])
    print("churn: %d files x (create+write, rename, chmod, delete), median of %d rounds" % (n, a.rounds))
    print("%-10s %10s %10s %10s %9s %9s %9s" % ("tool", "captured", "expected", "overflows", "wall s", "slowdown", "cpu s"))
    print("%-10s %10s %10s %10s %9.3f %8.2fx %9s" % ("untraced", "-", "-", "-", base_t, 1.0, "-"))
    for tool, types in [("letrace", LT_TYPES), ("fatrace", FA_TYPES)]:
        rs = runs[tool]
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        cap = min(sum(r["got"].values()) for r in rs)
        ov = max(r["overflow"] for r in rs)
        print("%-10s %10d %10d %10d %9.3f %8.2fx %9.3f" % (tool, cap, len(types) * n, ov, wall, wall / base_t, cpu))
    for tool, types in [("letrace", LT_TYPES), ("fatrace", FA_TYPES)]:
        worst = min(runs[tool], key=lambda r: sum(r["got"].values()))
        print("  %s per type (files with the event, worst round): %s" % (tool, ", ".join("%s %d" % (t, worst["got"][t]) for t in types)))
    dirs = runs["fatrace"][0]["dir"]
    print("  fatrace records naming only the directory (no file name), round 1: %s" % dict(dirs))
    errs = runs["fatrace"][0]["errors"]
    if errs:
        print("  fatrace stderr, round 1: %s" % "; ".join("%d x %s" % (c, l) for l, c in errs.most_common(3)))


if __name__ == "__main__":
    main()
