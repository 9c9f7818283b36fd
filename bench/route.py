#!/usr/bin/env python3
"""route benchmark: letrace `-s route` vs `ip monitor link address route` (the same groups) on the same workload, in one run.

Workload: N IPv4 addresses (default 1,000) added to and then deleted from `lo`, by one
`ip -batch` call, inside a fresh network namespace per phase. Phases: untraced, under letrace,
under `ip monitor`. For each: address events captured vs expected (2 per address), LOST
events, wall time of the batch, slowdown vs untraced, and the tracer's CPU seconds.

Usage (root): cargo build --release && python3 bench/route.py [--addrs N] [--rounds R]
Needs: iproute2.
"""
import argparse, json, os, signal, statistics, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LETRACE = os.path.join(ROOT, "target/release/letrace")
TICK = os.sysconf("SC_CLK_TCK")


def addr(i):
    return "10.200.%d.%d" % (i // 250, i % 250 + 1)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Netns:
    def __init__(self, name):
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name])


def batch_file(d, n):
    p = os.path.join(d, "batch")
    with open(p, "w") as f:
        for i in range(n):
            f.write("addr add %s/32 dev lo\n" % addr(i))
        for i in range(n):
            f.write("addr del %s/32 dev lo\n" % addr(i))
    return p


def run_batch(ns, batch):
    t0 = time.perf_counter()
    subprocess.run(["ip", "-n", ns, "-batch", batch], check=True)
    return time.perf_counter() - t0


def count_letrace(out, n):
    want = {addr(i) for i in range(n)}
    new = dele = lost = 0
    with open(out) as f:
        for line in f:
            ev = json.loads(line)
            if ev["type"] == "LOST":
                lost += ev.get("lost", 0)
                continue
            a = ev.get("route", {}).get("address")
            if a in want:
                new += ev["type"] == "NEWADDR"
                dele += ev["type"] == "DELADDR"
    return new + dele, lost


def count_ipmon(out, n):
    want = {addr(i) for i in range(n)}
    got = 0
    with open(out) as f:
        for line in f:
            parts = line.split()
            if "inet" in parts:
                a = parts[parts.index("inet") + 1].split("/")[0]
                got += a in want
    return got


def phase(tool, d, n, batch, rnd):
    ns = "letrace-bench-%d-%s-%d" % (os.getpid(), tool, rnd)
    with Netns(ns):
        proc = None
        out = os.path.join(d, "%s-%d.out" % (tool, rnd))
        if tool == "letrace":
            proc = subprocess.Popen(["ip", "netns", "exec", ns, LETRACE, "record", "-s", "route",
                                     "-o", out + ".jsonl"], stderr=subprocess.DEVNULL)
            while not os.path.exists(out + ".jsonl"):
                time.sleep(0.01)
        elif tool == "ip-monitor":
            f = open(out, "w")
            proc = subprocess.Popen(["ip", "netns", "exec", ns, "ip", "monitor", "link", "address", "route"], stdout=f)
            time.sleep(0.5)  # no readiness signal
        wall = run_batch(ns, batch)
        if proc is None:
            return {"wall": wall}
        time.sleep(1.0)
        cpu = cpu_seconds(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        if tool == "letrace":
            got, lost = count_letrace(out + ".jsonl", n)
        else:
            f.close()
            got, lost = count_ipmon(out, n), None
        return {"wall": wall, "cpu": cpu, "got": got, "lost": lost}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addrs", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        batch = batch_file(d, a.addrs)
        res = {"untraced": [], "letrace": [], "ip-monitor": []}
        for r in range(a.rounds):
            for tool in res:
                res[tool].append(phase(tool, d, a.addrs, batch, r))
    expected = 2 * a.addrs
    base = statistics.median(x["wall"] for x in res["untraced"])
    print("route: %d addresses added then deleted on lo in a fresh netns, expected %d address "
          "events per tool, median of %d rounds" % (a.addrs, expected, a.rounds))
    print("%-12s %9s %9s %6s %9s %9s %8s" % ("tool", "captured", "expected", "lost", "wall s",
                                            "slowdown", "cpu s"))
    print("%-12s %9s %9s %6s %9.3f %8.2fx %8s" % ("untraced", "-", "-", "-", base, 1.0, "-"))
    for tool in ("letrace", "ip-monitor"):
        rs = res[tool]
        wall = statistics.median(x["wall"] for x in rs)
        print("%-12s %9d %9d %6s %9.3f %8.2fx %8.3f" % (
            tool, min(x["got"] for x in rs), expected,
            "-" if rs[0]["lost"] is None else max(x["lost"] for x in rs),
            wall, wall / base, statistics.median(x["cpu"] for x in rs)))


main()
