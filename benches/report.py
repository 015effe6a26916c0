#!/usr/bin/env python3
"""Writes the README's results section from the benchmarks' own output.

    cargo bench --features benchmarks          # criterion's estimates, under target/criterion
    benches/compare-python.sh                 # target/compare-python.txt
    python3 benches/report.py                 # rewrites README.md between the markers

Reads criterion's `benchmark.json` and `new/estimates.json` for every benchmark of the
`transfer` and `transform` groups and the `RESULT` lines of compare-python.sh, and
replaces everything between `<!-- results:start -->` and `<!-- results:end -->` in
README.md. Times are criterion's median (robust against the odd slow sample on a busy
machine). `--compare-only FILE` prints the Rust-vs-Python table of one compare run.
Standard library only.
"""

import json
import os
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- results:start -->", "<!-- results:end -->"
GIB = 1 << 30
# Messages per iteration of the ring benchmark (benches/ring.rs, BATCH).
RING_BATCH = 4096


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def criterion_results(group, home="criterion"):
    """{(function, size): (median_seconds, bytes)} for one criterion group.

    `home` is criterion's output directory under the target dir: `criterion`, or
    `criterion-huge` for the runs on a tmpfs with huge pages (benches/run-all.sh)."""
    results = {}
    for bench in (target_dir() / home / group).glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        seconds = estimates["median"]["point_estimate"] / 1e9
        bytes_ = (meta.get("throughput") or {}).get("Bytes")
        results[(meta["function_id"], meta["value_str"])] = (seconds, bytes_)
    return results


def compare_results(path):
    """{(impl, kind, words, workers-or-way): best seconds} from RESULT lines."""
    best = {}
    if not path.is_file():
        return best
    for line in path.read_text().splitlines():
        if not line.startswith("RESULT "):
            continue
        _, impl, kind, *fields = line.split()
        f = dict(field.split("=", 1) for field in fields)
        if kind == "floor":
            entries = [
                ((impl, "floor", int(f["words"]), f["way"]), float(f["total_s"])),
                ((impl, "floor-transform", int(f["words"]), f["way"]), float(f["transform_s"])),
            ]
        elif kind == "job":
            entries = [
                ((impl, "job", int(f["words"]), f["workers"]), float(f["total_s"])),
                ((impl, "transform", int(f["words"]), f["workers"]), float(f["transform_s"])),
            ]
        else:
            entries = [((impl, "handoff", int(f["words"]), f["via"]), float(f["seconds"]))]
        if kind in ("floor", "job"):
            # Each step's best, for "where the time goes".
            way = f["way"] if kind == "floor" else f["workers"]
            entries += [((impl, f"{kind}-step:{step}", int(f["words"]), way), float(f[f"{step}_s"])) for step in STEPS if f"{step}_s" in f]
        for key, value in entries:
            best[key] = min(value, best.get(key, value))
    return best


# The steps of the classic job and of its floor, as the RESULT lines name them.
STEPS = ("fill", "transform", "verify", "remove")


def ms(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def rate(seconds, bytes_):
    return f"{bytes_ / seconds / GIB:.2f} GiB/s"


def ratio(x):
    return f"{x:.1f}×" if x >= 10 else f"{x:.2f}×"


def size_key(size):
    return int(re.match(r"\d+", size).group())


def machine():
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read_text()).group(1))
        mem = f", {kib / (1 << 20):.0f} GiB of memory"
    return (
        f"{os.cpu_count()} cores ({model}){mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; measured {datetime.now(timezone.utc):%Y-%m-%d}"
    )


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def transfer_section(results, huge, targets):
    ways = [
        "pipe",
        "pipe+postcard",
        "shm",
        "shm-4k",
        "shm-4k+populate",
        "shm-attached",
        "in-process",
        "in-process-4k",
        "memfd",
    ]
    sizes = sorted({size for _, size in results}, key=size_key)
    if not sizes:
        return "_No transfer results: run `cargo bench --features benchmarks --bench transfer`._"
    rows, ratio_rows = [], []
    nan = float("nan")
    for size in sizes:
        row = [size]
        for way in ways:
            if (way, size) in results:
                seconds, bytes_ = results[(way, size)]
                row.append(f"{ms(seconds)} ({rate(seconds, bytes_)})")
            else:
                row.append("–")
        rows.append(row)
        t = {way: results[(way, size)][0] for way in ways if (way, size) in results}
        if {"pipe", "pipe+postcard", "shm", "shm-attached", "in-process"} <= t.keys():
            ratio_rows.append(
                [
                    size,
                    ratio(t["pipe"] / t["shm"]),
                    ratio(t["pipe"] / t.get("shm-4k", nan)),
                    ratio(t["pipe+postcard"] / t["shm"]),
                    ratio(t["shm"] / t["in-process"]),
                    ratio(t.get("shm-4k", nan) / t.get("in-process-4k", nan)),
                    ratio(t.get("shm-4k+populate", nan) / t.get("in-process-4k", nan)),
                    ratio(t["shm-attached"] / t["in-process"]),
                    ratio(t["pipe"] / t["memfd"]) if "memfd" in t else "–",
                    ratio(t["memfd"] / t["shm"]) if "memfd" in t else "–",
                ]
            )
            if size == "64 MiB":
                # The hand-off against the best pipe is no target: it is bounded by
                # (pipe + read) / read, 4-6x on this machine, whatever the segment does.
                targets.append(("fresh attach + sum of a collapsed /dev/shm segment / in-process sum, 64 MiB", "≤ 1.1×", t["shm"] / t["in-process"], 1.1, False))
                targets.append(("shm hand-off vs pipe+postcard, 64 MiB", "≥ 10×", t["pipe+postcard"] / t["shm"], 10, True))
    huge_rows = []
    for size in sizes:
        t = {way: huge[(way, size)][0] for way in ways if (way, size) in huge}
        if {"pipe", "shm", "shm-attached", "in-process"} <= t.keys():
            huge_rows.append(
                [
                    size,
                    ms(t["shm"]),
                    ms(t["in-process"]),
                    ratio(t["pipe"] / t["shm"]),
                    ratio(t["shm"] / t["in-process"]),
                    ratio(t["shm-attached"] / t["in-process"]),
                ]
            )
    huge_part = []
    if huge_rows:
        huge_part = [
            "The same benchmark again with the segments on a tmpfs mounted with "
            "`huge=within_size` (every page 2 MiB from the start, no collapse needed):",
            table(
                ["size", "shm", "in-process", "pipe / shm", "shm / in-process", "shm-attached / in-process"],
                huge_rows,
            ),
        ]
    return "\n\n".join(
        [
            "Time to hand the buffer to another process, which sums every word (median; "
            "GiB/s of payload). `shm` is a segment made by the kata's `create` on `/dev/shm`, "
            "collapsed into 2 MiB pages; `-4k` is the same left on 4 KiB pages, in the same run:",
            table(["size"] + ways, rows),
            "Ratios (how many times faster the first is; for the `/ in-process` columns, how "
            "much slower than the in-process sum over the same pages; for `memfd / shm`, below "
            "1× means the sealed memfd's hand-off is the faster one):",
            table(
                [
                    "size",
                    "pipe / shm",
                    "pipe / shm-4k",
                    "pipe+postcard / shm",
                    "shm / in-process",
                    "shm-4k / in-process-4k",
                    "shm-4k+populate / in-process-4k",
                    "shm-attached / in-process",
                    "pipe / memfd",
                    "memfd / shm",
                ],
                ratio_rows,
            ),
        ]
        + huge_part
    )


def transform_section(results, huge, targets):
    if not results:
        return "_No transform results: run `cargo bench --features benchmarks --bench transform`._"
    rows = []
    for suffix, runs in (("", results), (", huge=within_size", huge)):
        # On a huge= mount every page is 2 MiB whatever the kit asks: no -4k rows there.
        for pages in ("", "-4k") if not suffix else ("",):
            reference = runs.get((f"single-pass{pages}", "256 MiB"))
            for (function, size), (seconds, bytes_) in sorted(runs.items()):
                kind = function.split("/")[0]
                if kind not in (f"run{pages}", f"single-pass{pages}"):
                    continue
                share = ratio(reference[0] / seconds) if reference else "–"
                rows.append([function + suffix, size, ms(seconds), rate(seconds, bytes_), share])
                if reference and kind == "run" and not suffix:
                    w = function.split("/")[1]
                    goal = {"1": 0.8, "2": 1.2}.get(w)
                    if goal:
                        targets.append(
                            (f"transform::run, {w} worker(s) / single pass, 64M words", f"≥ {goal}×", reference[0] / seconds, goal, True)
                        )
    return "\n\n".join(
        [
            "64M words (256 MiB) rewritten in place; `run/W` is `transform::run` with W "
            "worker processes, `single-pass` one read and write of the same buffer in one "
            "process (the memory-bandwidth reference), each on a segment collapsed into "
            "2 MiB pages; the `-4k` rows on one left on 4 KiB pages, each against its own "
            "single pass; \"huge=within_size\" rows ran on a tmpfs mounted that way:",
            table(["benchmark", "size", "time", "throughput", "× single pass"], rows),
        ]
    )


def compare_section(results, targets):
    jobs = sorted({(n, w) for (impl, kind, n, w) in results if kind == "job"})
    if not jobs:
        return "_No Rust-vs-Python results: run `benches/compare-python.sh`._"
    rows, floor_rows = [], []
    for n, w in jobs:
        rust, python = results.get(("rust", "job", n, w)), results.get(("python", "job", n, w))
        if rust is None or python is None:
            continue
        rust_t, python_t = results[("rust", "transform", n, w)], results[("python", "transform", n, w)]
        small = results.get(("rust-4k", "job", n, w))
        rows.append(
            [
                f"{n:,}",
                w,
                ms(rust),
                ms(small) if small else "–",
                ms(python),
                ratio(python / rust),
                ms(rust_t),
                ms(python_t),
                ratio(python_t / rust_t),
            ]
        )
        floors = {way: results.get(("rust", "floor", n, way)) for way in ("vec", "vec+hugepage")}
        known = [f for f in floors.values() if f is not None]
        if known:
            best = min(known)
            floor_rows.append(
                [
                    f"{n:,}",
                    w,
                    ms(rust),
                    ms(floors["vec"]) if floors["vec"] else "–",
                    ms(floors["vec+hugepage"]) if floors["vec+hugepage"] else "–",
                    ratio(rust / floors["vec"]) if floors["vec"] else "–",
                    ratio(rust / best),
                    ratio(small / best) if small else "–",
                ]
            )
        if n == 5_000_000:
            if floors["vec"]:
                targets.append((f"Rust classic job / the single-process `Vec` floor, 5M words, {w} workers", "≤ 1.25×", rust / floors["vec"], 1.25, False))
            targets.append((f"Rust classic job vs Python, 5M words, {w} workers", "≥ 40×", python / rust, 40, True))
    parts = [
        "The classic job (create, fill `0..N`, transform with W processes, verify every "
        "word, remove), best of the runs, `examples/classic.rs` (on 2 MiB pages, and with "
        "`SHM_KATA_PAGES=4k` on 4 KiB pages) against `benches/classic.py`; then the "
        "transform step alone (start the W processes, each attaches and rewrites its "
        "range, wait for all):",
        table(
            ["words", "workers", "Rust job", "Rust job, 4 KiB", "Python job", "Python / Rust", "Rust transform", "Python transform", "Python / Rust"],
            rows,
        ),
    ]
    if floor_rows:
        parts += [
            "The whole-process job against the single-process floor: the same fill, "
            "transform and verify in one process and one thread, on a `Vec` and on "
            "anonymous memory with `MADV_HUGEPAGE` (`classic N floor`), no segment and no "
            "worker; against the `Vec`, and against the faster of the two:",
            table(["words", "workers", "Rust job", "floor (Vec)", "floor (MADV_HUGEPAGE)", "job / Vec floor", "job / best floor", "job 4 KiB / best floor"], floor_rows),
        ]
        steps = steps_table(results)
        if steps:
            parts += [
                "Where the difference goes, at 5M words: each step's best over the runs (so a "
                "column's steps may come from different runs). `fill` is the segment's creation "
                "(open, size, `posix_fallocate`, the collapse into 2 MiB pages) and the writes "
                "of `0..N`, against the floor's allocation and the same writes; `transform` "
                "starts the workers, each attaching and rewriting its range, against one "
                "thread's loop; `verify` reads every word back (in the job once the workers "
                "have exited, with the same loop as the floor); `remove` unlinks and unmaps, "
                "against the floor's free:",
                steps,
            ]
    handoffs = sorted({n for (impl, kind, n, _) in results if kind == "handoff"})
    if handoffs:
        rows = []
        for n in handoffs:
            t = {way: s for (impl, kind, m, way), s in results.items() if kind == "handoff" and m == n}
            if {"queue-list", "queue-array", "shm"} <= t.keys():
                rows.append(
                    [
                        f"{n:,}",
                        ms(t["queue-list"]),
                        ms(t["queue-array"]),
                        ms(t["shm"]),
                        ratio(t["queue-list"] / t["shm"]),
                        ratio(t["queue-array"] / t["shm"]),
                    ]
                )
        parts += [
            "Python handing the same words to another process, which sums them "
            "(`multiprocessing.Queue` of a list of ints, of an `array('I')`, or the "
            "segment's name; best of three):",
            table(["words", "Queue (list)", "Queue (array)", "shared memory", "list / shm", "array / shm"], rows),
        ]
    return "\n\n".join(parts)


def steps_table(results):
    """The classic job's steps at 5M words: the job (2 MiB and 4 KiB pages) beside the two
    floors, each step's best."""
    n = 5_000_000
    jobs = sorted({w for (impl, kind, m, w) in results if kind == "job" and m == n and impl == "rust"})
    if not jobs:
        return None
    w = jobs[-1]
    columns = [
        (f"job, {w} workers, 2 MiB", ("rust", "job-step", w)),
        (f"job, {w} workers, 4 KiB", ("rust-4k", "job-step", w)),
        ("floor (Vec)", ("rust", "floor-step", "vec")),
        ("floor (MADV_HUGEPAGE)", ("rust", "floor-step", "vec+hugepage")),
    ]
    columns = [(label, key) for label, key in columns if (key[0], f"{key[1]}:fill", n, key[2]) in results]
    rows = []
    for step in STEPS:
        rows.append([step] + [ms(results[(impl, f"{kind}:{step}", n, way)]) for _, (impl, kind, way) in columns])
    rows.append(
        ["sum"]
        + [ms(sum(results[(impl, f"{kind}:{step}", n, way)] for step in STEPS)) for _, (impl, kind, way) in columns]
    )
    return table(["step"] + [label for label, _ in columns], rows)


def ring_python_results(path):
    """{("messages", "64 B"): messages/s, ("round-trip", "64 B"): seconds} from the
    `RESULT python-queue …` lines of benches/ring_queue.py."""
    found = {}
    if not path.is_file():
        return found
    for line in path.read_text().splitlines():
        m = re.match(r"RESULT python-queue messages (\d+ (?:B|KiB)): ([\d,]+) messages/s", line)
        if m:
            # The script says "4096 B" where criterion says "4 KiB".
            n, unit = m.group(1).split()
            size = f"{int(n) // 1024} KiB" if unit == "B" and int(n) >= 1024 else m.group(1)
            found[("messages", size)] = float(m.group(2).replace(",", ""))
        m = re.match(r"RESULT python-queue round-trip (\d+ B): ([\d.]+) us", line)
        if m:
            found[("round-trip", m.group(1))] = float(m.group(2)) / 1e6
    return found


def ring_section(messages, behind, round_trip, loaded, python, targets):
    """Exercise 07's ring against a pipe (a `write` per message, and batched), Python's
    Queue and the ceiling ring (benches/ring/ceiling.rs): messages per second for batches
    of messages, with the receiver keeping up (`messages`) and falling behind
    (`messages-behind`), and a round trip."""
    if not messages:
        return "_No ring results: run `cargo bench --features benchmarks --bench ring`._"
    sizes = sorted({size for _, size in messages}, key=lambda s: size_key(s) * (1024 if "KiB" in s else 1))
    rows = []
    for size in sizes:
        # Each iteration is one batch of RING_BATCH messages (benches/ring.rs, BATCH).
        per_s = {
            way: RING_BATCH / messages[(way, size)][0]
            for way in ("ring", "ring-batched", "pipe", "pipe-batched", "ceiling")
            if (way, size) in messages
        }
        if "ring" not in per_s:
            continue
        cells = [size]
        for way in ("ring", "ring-batched", "pipe", "pipe-batched", "ceiling"):
            cells.append(f"{per_s[way] / 1e6:.2f} M/s" if way in per_s else "–")
        py = python.get(("messages", size))
        cells.append(f"{py / 1e6:.3f} M/s" if py else "–")
        cells.append(ratio(per_s["ring"] / per_s["pipe"]) if "pipe" in per_s else "–")
        cells.append(ratio(per_s["ring"] / per_s["ceiling"]) if "ceiling" in per_s else "–")
        batched = "ring-batched" in per_s and "pipe-batched" in per_s
        cells.append(ratio(per_s["ring-batched"] / per_s["pipe-batched"]) if batched else "–")
        cells.append(ratio(per_s["ring"] / py) if py else "–")
        rows.append(cells)
        if size == "64 B" and "pipe" in per_s:
            targets.append(("ring vs a pipe written per message, 64 B", "≥ 10×", per_s["ring"] / per_s["pipe"], 10, True))
        if size == "64 B" and "ceiling" in per_s:
            targets.append(("ring vs the ceiling ring, 64 B, receiver keeping up", "≥ 0.7×", per_s["ring"] / per_s["ceiling"], 0.7, True))
    parts = [
        "Batches of 4096 messages from one process to another, both running at once "
        "(messages per second, median; the ceiling is the fastest ring this machine runs, "
        "fixed 64-byte slots and none of the kata's code: benches/ring/ceiling.rs; "
        "`send_many` publishes `tail` once per 8 KiB of records instead of once per message, "
        "as the batched pipe writes a whole batch with one call):",
        table(["message", "ring", "ring, `send_many`", "pipe, a write each", "pipe, batched", "ceiling", "Python Queue", "ring / pipe", "ring / ceiling", "batched: ring / pipe", "ring / Queue"], rows),
    ]
    late = {way: RING_BATCH / behind[(way, "64 B")][0] for way in ("ring", "ceiling") if (way, "64 B") in behind}
    if "ring" in late and "ceiling" in late:
        parts += [
            "The receiver fallen behind: it starts on a batch once the whole batch is in the "
            "ring, and finds every message at its first look (64 B, the sender's time and then "
            "the receiver's):",
            table(
                ["message", "ring", "ceiling", "ring / ceiling"],
                [["64 B", f"{late['ring'] / 1e6:.2f} M/s", f"{late['ceiling'] / 1e6:.2f} M/s", ratio(late["ring"] / late["ceiling"])]],
            ),
        ]
        targets.append(("ring vs the ceiling ring, 64 B, receiver behind", "≥ 0.7×", late["ring"] / late["ceiling"], 0.7, True))
    def trip(results, way):
        found = results.get((f"{way} 64 B", None))
        return found[0] if found else None

    def us(seconds):
        return f"{seconds * 1e6:.1f} µs" if seconds is not None else "–"

    trips = [
        [way, us(trip(round_trip, way)), us(trip(loaded, way))]
        for way in ("ring", "ceiling", "pipe")
        if trip(round_trip, way) is not None
    ]
    ring_trip, pipe_trip = trip(round_trip, "ring"), trip(round_trip, "pipe")
    if ring_trip and pipe_trip:
        targets.append(("ring round trip / a pipe's, 64 B, machine otherwise idle", "≤ 1.0×", ring_trip / pipe_trip, 1.0, False))
        targets.append(("ring round trip, 64 B, machine otherwise idle / 0.5 µs", "≤ 1.0×", ring_trip / 0.5e-6, 1.0, False))
    ring_loaded, pipe_loaded = trip(loaded, "ring"), trip(loaded, "pipe")
    if ring_loaded and pipe_loaded:
        targets.append(("ring round trip / a pipe's, 64 B, a busy loop per core", "≤ 1.0×", ring_loaded / pipe_loaded, 1.0, False))
    if ("round-trip", "64 B") in python:
        trips.append(["Python Queue", us(python[("round-trip", "64 B")]), "–"])
    if trips:
        parts += [
            "A 64-byte message there and back (median), on the machine otherwise idle and with "
            "one busy loop per core (so twice as many threads want to run as there are cores):",
            table(["through", "round trip", "round trip, loaded"], trips),
        ]
    return "\n\n".join(parts)


def targets_section(targets):
    rows = []
    for what, goal, value, bound, at_least in targets:
        met = value >= bound if at_least else value <= bound
        rows.append([what, goal, ratio(value), "yes" if met else "**no**"])
    return table(["target", "goal", "measured", "met"], rows)


def render():
    targets = []
    compare_file = target_dir() / "compare-python.txt"
    sections = [
        f"Measured on: {machine()}. The machine was shared with other work while the "
        "benchmarks ran: the ratios, measured side by side in one run, are what matter.",
        "### Transfer: pipe vs pipe + serialization vs shared memory",
        transfer_section(criterion_results("transfer"), criterion_results("transfer", "criterion-huge"), targets),
        "### Transform vs memory bandwidth",
        transform_section(criterion_results("transform"), criterion_results("transform", "criterion-huge"), targets),
        "### The same job in Python",
        compare_section(compare_results(compare_file), targets),
        "### Messages: exercise 07's ring vs a pipe vs Python's Queue",
        ring_section(
            criterion_results("messages"),
            criterion_results("messages-behind"),
            criterion_results("round-trip"),
            criterion_results("round-trip", "criterion-loaded"),
            ring_python_results(target_dir() / "ring-queue.txt"),
            targets,
        ),
        "### Targets",
        targets_section(targets),
    ]
    return "\n\n".join(sections)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--compare-only":
        print(compare_section(compare_results(Path(sys.argv[2])), []))
        return
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        sys.exit(f"report.py: README.md has no {START} … {END} section to fill")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    generated = f"{START}\n<!-- generated by benches/report.py from the benchmarks' output; do not edit -->\n\n{render()}\n\n{END}"
    readme.write_text(head + generated + tail)
    print(f"report.py: wrote the results section of {readme}")


if __name__ == "__main__":
    main()
