#!/usr/bin/env python3
"""Writes the README's results section from the benchmarks' own output.

    cargo bench --features solutions          # criterion's estimates, under target/criterion
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
        if kind == "job":
            entries = [
                ((impl, "job", int(f["words"]), f["workers"]), float(f["total_s"])),
                ((impl, "transform", int(f["words"]), f["workers"]), float(f["transform_s"])),
            ]
        else:
            entries = [((impl, "handoff", int(f["words"]), f["via"]), float(f["seconds"]))]
        for key, value in entries:
            best[key] = min(value, best.get(key, value))
    return best


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
    ways = ["pipe", "pipe+postcard", "shm", "shm+populate", "shm-attached", "memfd", "in-process"]
    sizes = sorted({size for _, size in results}, key=size_key)
    if not sizes:
        return "_No transfer results: run `cargo bench --features solutions --bench transfer`._"
    rows, ratio_rows = [], []
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
                    ratio(t["pipe+postcard"] / t["shm"]),
                    ratio(t["shm"] / t["in-process"]),
                    ratio(t.get("shm+populate", float("nan")) / t["in-process"]),
                    ratio(t["pipe"] / t["shm-attached"]),
                    ratio(t["shm-attached"] / t["in-process"]),
                    ratio(t["pipe"] / t["memfd"]) if "memfd" in t else "–",
                    ratio(t["memfd"] / t["shm"]) if "memfd" in t else "–",
                ]
            )
            if size == "64 MiB":
                targets.append(("shm hand-off vs best pipe, 64 MiB", "≥ 5×", t["pipe"] / t["shm"], 5, True))
                targets.append(("… with the receiver already attached", "≥ 5×", t["pipe"] / t["shm-attached"], 5, True))
                targets.append(("shm hand-off vs pipe+postcard, 64 MiB", "≥ 10×", t["pipe+postcard"] / t["shm"], 10, True))
                targets.append(("shm receiver (attach + sum) / in-process sum, 64 MiB", "≤ 1.5×", t["shm"] / t["in-process"], 1.5, False))
                if "shm+populate" in t:
                    targets.append(("… attached with MAP_POPULATE", "≤ 1.5×", t["shm+populate"] / t["in-process"], 1.5, False))
                targets.append(("… receiver already attached", "≤ 1.5×", t["shm-attached"] / t["in-process"], 1.5, False))
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
            if size == "64 MiB":
                targets.append(("shm hand-off vs best pipe, 64 MiB, huge pages", "≥ 5×", t["pipe"] / t["shm"], 5, True))
                targets.append(("shm receiver (attach + sum) / in-process sum, 64 MiB, huge pages", "≤ 1.5×", t["shm"] / t["in-process"], 1.5, False))
    huge_part = []
    if huge_rows:
        huge_part = [
            "The same run again with the segment on a tmpfs mounted with "
            "`huge=within_size` (2 MiB pages: 512 times fewer pages to map and unmap):",
            table(
                ["size", "shm", "in-process", "pipe / shm", "shm / in-process", "shm-attached / in-process"],
                huge_rows,
            ),
        ]
    return "\n\n".join(
        [
            "Time to hand the buffer to another process, which sums every word (median; "
            "GiB/s of payload):",
            table(["size"] + ways, rows),
            "Ratios (how many times faster the first is; for the `/ in-process` columns, "
            "how much slower than the in-process sum; for `memfd / shm`, below 1× means the "
            "sealed memfd's hand-off is the faster one):",
            table(
                [
                    "size",
                    "pipe / shm",
                    "pipe+postcard / shm",
                    "shm / in-process",
                    "shm+populate / in-process",
                    "pipe / shm-attached",
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
        return "_No transform results: run `cargo bench --features solutions --bench transform`._"
    rows = []
    for pages, runs in (("", results), (", huge pages", huge)):
        reference = next((v for (f, _), v in runs.items() if f == "single-pass"), None)
        for (function, size), (seconds, bytes_) in sorted(runs.items()):
            share = ratio(reference[0] / seconds) if reference else "–"
            rows.append([function + pages, size, ms(seconds), rate(seconds, bytes_), share])
            if reference and function.startswith("run/"):
                w = function.split("/")[1]
                targets.append(
                    (f"transform::run, {w} worker(s) / single pass, 64M words{pages}", "≥ 0.5×", reference[0] / seconds, 0.5, True)
                )
    return "\n\n".join(
        [
            "64M words (256 MiB) rewritten in place; `run/W` is `transform::run` with W "
            "worker processes, `single-pass` one read and write of the same buffer in one "
            "process (the memory-bandwidth reference); \"huge pages\" rows ran on a tmpfs "
            "mounted with `huge=within_size`, each against its own single pass:",
            table(["benchmark", "size", "time", "throughput", "× single pass"], rows),
        ]
    )


def compare_section(results, targets):
    jobs = sorted({(n, w) for (impl, kind, n, w) in results if kind == "job"})
    if not jobs:
        return "_No Rust-vs-Python results: run `benches/compare-python.sh`._"
    rows = []
    for n, w in jobs:
        rust, python = results.get(("rust", "job", n, w)), results.get(("python", "job", n, w))
        if rust is None or python is None:
            continue
        rust_t, python_t = results[("rust", "transform", n, w)], results[("python", "transform", n, w)]
        rows.append(
            [f"{n:,}", w, ms(rust), ms(python), ratio(python / rust), ms(rust_t), ms(python_t), ratio(python_t / rust_t)]
        )
        if n == 5_000_000:
            targets.append((f"Rust classic job vs Python, 5M words, {w} workers", "≥ 100×", python / rust, 100, True))
            targets.append(("… the transform step alone", "≥ 100×", python_t / rust_t, 100, True))
    parts = [
        "The classic job (create, fill `0..N`, transform with W processes, verify every "
        "word, remove), best of the runs, `examples/classic.rs` against `benches/classic.py`; "
        "then the transform step alone (start the W processes, each attaches and rewrites "
        "its range, wait for all):",
        table(
            ["words", "workers", "Rust job", "Python job", "Python / Rust", "Rust transform", "Python transform", "Python / Rust"],
            rows,
        ),
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
