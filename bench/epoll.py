#!/usr/bin/env python3
"""epoll benchmark: `letrace record -s epoll:FIFO` as the reader of a busy FIFO.

A writer sends N messages (default 20,000 x 100 bytes), in bursts of 10 with a short pause
between bursts (so readiness changes many times), then closes; this repeats for W writers
one after another (letrace reopens the FIFO after each EPOLLHUP). Checked: every byte is
accounted for (sum of bytes_read == bytes written), one EPOLLHUP per writer, and letrace's
CPU time, against `cat FIFO > /dev/null` (the cheapest possible reader) on the same load.

Usage: cargo build --release && python3 bench/epoll.py [--messages N] [--writers W]
"""
import argparse, json, os, signal, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LETRACE = os.path.join(ROOT, "target/release/letrace")


def write_load(fifo, n, writers):
    msg = b"x" * 100
    per = n // writers
    total = 0
    t0 = time.perf_counter()
    for _ in range(writers):
        fd = os.open(fifo, os.O_WRONLY)  # blocks until the reader holds the FIFO open
        for i in range(per):
            os.write(fd, msg)
            total += len(msg)
            if i % 10 == 9:
                time.sleep(0.0002)
        os.close(fd)
        time.sleep(0.05)
    return total, time.perf_counter() - t0


def cpu_of(pid):
    _, st, ru = os.wait4(pid, 0)
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--writers", type=int, default=20)
    a = ap.parse_args()
    if not os.path.exists(LETRACE):
        sys.exit("build first: cargo build --release")
    d = tempfile.mkdtemp(prefix="letrace-epoll-")
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    out = os.path.join(d, "out.jsonl")

    p = subprocess.Popen([LETRACE, "record", "-s", "epoll:" + fifo, "-o", out], stderr=subprocess.DEVNULL)
    written, wall = write_load(fifo, a.messages, a.writers)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    lt_cpu = cpu_of(p.pid)
    got = ins = hups = 0
    with open(out) as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "EPOLLIN":
                ins += 1
                got += e["epoll"].get("bytes_read", 0)
            elif e["type"] == "EPOLLHUP":
                hups += 1

    # Baseline: cat reading the same load, reopened per writer like letrace does.
    cat_cpu = 0.0
    stop = [False]
    import threading
    def cat_loop():
        nonlocal cat_cpu
        while not stop[0]:
            c = subprocess.Popen(["cat", fifo], stdout=subprocess.DEVNULL)
            cat_cpu += cpu_of(c.pid)
    t = threading.Thread(target=cat_loop)
    t.start()
    write_load(fifo, a.messages, a.writers)
    stop[0] = True
    # unblock the last cat
    fd = os.open(fifo, os.O_WRONLY)
    os.close(fd)
    t.join()

    print("FIFO load: %d writers x %d messages x 100 bytes, bursts of 10" % (a.writers, a.messages // a.writers))
    print("%-8s %12s %12s %9s %9s %9s" % ("reader", "bytes read", "written", "EPOLLIN", "EPOLLHUP", "cpu s"))
    print("%-8s %12d %12d %9d %9d %9.3f" % ("letrace", got, written, ins, hups, lt_cpu))
    print("%-8s %12s %12d %9s %9s %9.3f" % ("cat", "-", written, "-", "-", cat_cpu))
    print("complete: %s; writer wall time %.2f s" % ("yes" if got == written and hups == a.writers else "NO", wall))
    subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    main()
