#!/usr/bin/env python3
"""The article's classic job in Python, timed, beside the kata's Rust version.

    python3 benches/classic.py N W          # standard library only, Python 3.8+

1. The job: a shared-memory segment of N uint32 words, filled with 0, 1, 2, ...,
   transformed in place by W processes (x -> 2x + 1 if x is even, 2x if odd, modulo
   2**32), each attaching by name and rewriting its own chunk; the parent joins them,
   verifies every word, closes and unlinks. Prints a `RESULT python job ...` line in the
   same format as `examples/classic.rs`.
2. The article's claim, in its own language: hand the same N words to another process
   (which sums them, so every word really arrives) through a multiprocessing.Queue, as a
   list of ints and as an array('I'), and through shared memory (the receiver attaches
   by name and sums). Prints one `RESULT python handoff ...` line per way.

`benches/compare-python.sh` runs this and the Rust example at the same N and W.
"""

import sys
import time
from array import array
from multiprocessing import Process, Queue, cpu_count, shared_memory

MASK = 0xFFFFFFFF


def transform(x):
    """2x + 1 if x is even, 2x if odd, modulo 2**32: the kata's `transform`."""
    return (2 * x + 1 - (x & 1)) & MASK


def attach(name):
    """Attach to an existing segment by name.

    Before Python 3.13, SharedMemory(name=...) also registers the segment with the
    resource tracker, which unlinks it when the tracker's owner exits, even if other
    processes still use it (CPython gh-82300). Here every attacher is a child of the
    creator and shares its tracker, so registering again changes nothing; an unrelated
    process would pass track=False (3.13+) or unregister by hand.
    """
    try:
        return shared_memory.SharedMemory(name=name, track=False)
    except TypeError:  # Python < 3.13
        return shared_memory.SharedMemory(name=name)


def chunks(n, workers):
    """The article's split: ceil(n / workers) words each, empty chunks skipped."""
    size = -(-n // workers)
    return [(s, min(s + size, n)) for s in range(0, n, size)] if n else []


def worker(name, start, end):
    shm = attach(name)
    words = shm.buf.cast("I")
    # One slice in, one slice out: the fastest plain-Python way to rewrite a range.
    words[start:end] = array("I", [transform(x) for x in words[start:end]])
    words.release()
    shm.close()


def classic(n, workers):
    times = {}
    start = time.perf_counter()
    shm = shared_memory.SharedMemory(create=True, size=n * 4)
    try:
        words = shm.buf.cast("I")
        words[:] = array("I", range(n))
        times["fill"] = time.perf_counter()

        procs = [Process(target=worker, args=(shm.name, s, e)) for s, e in chunks(n, workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        if failed:
            raise SystemExit(f"classic.py: a worker failed with exit code {failed[0]}")
        times["transform"] = time.perf_counter()

        got = words.tolist()
        expected = [transform(i) for i in range(n)]
        if got != expected:
            i = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
            raise SystemExit(f"classic.py: word {i} is {got[i]}, expected {expected[i]}")
        times["verify"] = time.perf_counter()
        words.release()
    finally:
        shm.close()
        shm.unlink()
    times["remove"] = time.perf_counter()
    steps, last = {}, start
    for step in ("fill", "transform", "verify", "remove"):
        steps[step], last = times[step] - last, times[step]
    return steps, times["remove"] - start


def receiver(requests, replies):
    """Sums whatever it is handed, until it gets None."""
    for kind, payload in iter(requests.get, None):
        if kind == "shm":
            shm = attach(payload)
            words = shm.buf.cast("I")
            total = sum(words)
            words.release()
            shm.close()
        else:
            total = sum(payload)
        replies.put(total)


def handoff(n, repeat=3):
    """Best-of-`repeat` seconds to hand n words to another process, by each way."""
    requests, replies = Queue(), Queue()
    peer = Process(target=receiver, args=(requests, replies))
    peer.start()
    expected = n * (n - 1) // 2
    data = array("I", range(n))
    shm = shared_memory.SharedMemory(create=True, size=max(n * 4, 1))
    results = {}
    try:
        view = shm.buf.cast("I")
        view[:] = data
        view.release()
        ways = {
            "queue-list": lambda: ("list", data.tolist()),
            "queue-array": lambda: ("array", data),
            "shm": lambda: ("shm", shm.name),
        }
        for way, message in ways.items():
            best = None
            for _ in range(repeat):
                request = message()  # the sender's data, ready (not timed)
                t = time.perf_counter()
                requests.put(request)
                total = replies.get(timeout=600)
                elapsed = time.perf_counter() - t
                if total != expected:
                    raise SystemExit(f"classic.py: {way} receiver summed {total}, not {expected}")
                best = elapsed if best is None else min(best, elapsed)
            results[way] = best
    finally:
        requests.put(None)
        peer.join(timeout=60)
        if peer.is_alive():
            peer.kill()
        shm.close()
        shm.unlink()
    return results


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else cpu_count()
    steps, total = classic(n, workers)
    print(
        f"RESULT python job words={n} workers={workers} "
        + " ".join(f"{k}_s={v:.6f}" for k, v in steps.items())
        + f" total_s={total:.6f}",
        flush=True,
    )
    if "--no-handoff" not in sys.argv:
        for way, seconds in handoff(n).items():
            print(f"RESULT python handoff words={n} via={way} seconds={seconds:.6f}", flush=True)


if __name__ == "__main__":
    main()
