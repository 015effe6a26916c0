#!/usr/bin/env python3
"""Exercise 07's messages through Python's multiprocessing.Queue, the article's queue.

    python3 benches/ring_queue.py            # standard library only, Python 3.8+

The same shapes as `cargo bench --features benchmarks --bench ring`: batches of 4096
messages of 64 B and of 4 KiB (bytes objects) from this process to another, which gets
every one and answers once per batch; and a 64-byte round trip through two queues.
Prints one `RESULT python-queue ...` line per measurement: the median of 5 runs.
"""

import statistics
import time
from multiprocessing import Process, Queue

BATCH = 4096
RUNS = 5


def receive(inbox, outbox):
    while True:
        for _ in range(BATCH):
            if inbox.get() is None:
                return
        outbox.put(b"!")


def echo(inbox, outbox):
    while True:
        message = inbox.get()
        if message is None:
            return
        outbox.put(message)


def messages(size):
    inbox, outbox = Queue(), Queue()
    peer = Process(target=receive, args=(inbox, outbox))
    peer.start()
    message = bytes(range(256)) * (size // 256) if size >= 256 else bytes(size)
    times = []
    for _ in range(RUNS + 1):  # the first run warms up
        start = time.perf_counter()
        for _ in range(BATCH):
            inbox.put(message)
        outbox.get()
        times.append(time.perf_counter() - start)
    inbox.put(None)
    peer.join()
    median = statistics.median(times[1:])
    print(f"RESULT python-queue messages {size} B: {BATCH / median:,.0f} messages/s "
          f"({BATCH * size / median / 2**30:.3f} GiB/s)")


def round_trip():
    there, back = Queue(), Queue()
    peer = Process(target=echo, args=(there, back))
    peer.start()
    message = bytes(64)
    rounds = 2000
    times = []
    for _ in range(RUNS + 1):
        start = time.perf_counter()
        for _ in range(rounds):
            there.put(message)
            back.get()
        times.append((time.perf_counter() - start) / rounds)
    there.put(None)
    peer.join()
    print(f"RESULT python-queue round-trip 64 B: {statistics.median(times[1:]) * 1e6:.1f} us")


if __name__ == "__main__":
    messages(64)
    messages(4096)
    round_trip()
