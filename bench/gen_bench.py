"""Benchmark of `census generate` (issue 16: Hangzhou's 5.05 M households in <= 10 minutes).

    .venv/bin/python bench/gen_bench.py --households 1000000 --workers 2 --out /tmp/gen_bench

Writes a census to --out (deleted afterwards unless --keep), and prints households/s, wall
and CPU time (user and system), peak RSS of this process and of its largest worker, the
machine's load (1-minute average sampled every 10 s through the run: other work on the two
cores stretches the wall time, CPU time much less), and how full the fullest ID-number
sequence cell got against its share (IdAllocator).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import threading
import time
from pathlib import Path

from census_demo import Generator


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="/tmp/gen_bench")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    load_before = os.getloadavg()
    loads: list[float] = []
    stop = threading.Event()

    def sample_load() -> None:
        while not stop.wait(10):
            loads.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample_load, daemon=True)
    sampler.start()
    started, cpu0 = time.perf_counter(), os.times()
    gen = Generator(out, args.households, args.seed, workers=args.workers)
    truth = gen.run()
    wall = time.perf_counter() - started
    cpu1 = os.times()
    stop.set()
    user = (cpu1.user - cpu0.user) + (cpu1.children_user - cpu0.children_user)
    system = (cpu1.system - cpu0.system) + (cpu1.children_system - cpu0.children_system)
    cpu = user + system
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    city = truth["city"]
    print(f"households={args.households:,} workers={args.workers} seed={args.seed}")
    print(f"  wall {wall:.1f} s, {args.households / wall:,.0f} households/s; CPU {cpu:.1f} s "
          f"({1000 * cpu / args.households:.3f} ms CPU per household; user {user:.1f} s, system {system:.1f} s)")
    print(f"  peak RSS: main {own:.0f} MiB, largest worker {kids:.0f} MiB")
    during = f"mean {sum(loads) / len(loads):.2f}, max {max(loads):.2f}" if loads else "not sampled"
    print(f"  load average (1 min) before {load_before[0]:.2f}, during {during}, after {os.getloadavg()[0]:.2f} "
          f"({os.cpu_count()} cores)")
    print(f"  persons {city.get('population', 0):,}, files {truth['totals']['files']:,}, "
          f"lines {truth['totals']['lines_received']:,}")
    cells = ", ".join(f"{kind} {n} of {cap}" for kind, (n, cap) in sorted(gen.id_cell_max.items()))
    print(f"  ID sequence cells, fullest by kind of area (numbers used of the county's part): {cells}")
    print(f"  projected for 5,050,000 households: {5_050_000 / (args.households / wall) / 60:.1f} min at this rate")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
        for suffix in (".truth.json", ".truth_links.csv.gz"):
            Path(str(out) + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
