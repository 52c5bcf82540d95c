#!/usr/bin/env python3
"""Reads a results file of ../shared/bench/http_bench.sh holding limit.c's rows, squall's (the
HTTPServer callback) and, if present, squall web's (Application + RequestHandler), and prints
squall's figures as ratios of limit.c's, against issue 4's targets:

  S1, S2, S4 (plaintext c64, plaintext c256, json c256): efficiency, requests/s per 100% of the
             server's CPU (the harness's "req/s at 100% CPU0" column), >= 0.9 x limit.c's
  S3 (plaintext c256, pipelined 16 deep): requests/s >= 0.5 x limit.c's
  S5 (idle keep-alive connections): KiB of server RSS per connection <= 1.5

and the web layer's plaintext and JSON throughput as ratios of the callback's, against issue 6's
target (plaintext requests/s >= 0.85 x the callback's, S1 and S2), and the parity app's
(examples/parity: the whole framework path as configured there; no target).

Cells are "median [min-max]"; the medians are compared. Usage: http_bench_ratios.py RESULTS.md
"""
import re
import sys


def median(cell):
    match = re.match(r"\s*([0-9.]+)", cell)
    return float(match.group(1)) if match else None


def main(path):
    rows = {}
    header = None
    with open(path, encoding="utf-8") as results:
        for line in results:
            if not line.startswith("|") or line.startswith("|---"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] == "date":
                header = cells
                continue
            if header is None:
                continue
            row = dict(zip(header, cells))
            name = row["server"]
            server = ("limit" if name.startswith("limit")
                      else "web" if name.startswith("squall web")
                      else "parity" if name.startswith("squall parity") else "squall")
            scenario = row["scenario"].split()[0]  # "S5" of "S5 idle N=10000"
            rows[(server, row["scenario"])] = row
            rows.setdefault((server, scenario), row)
    efficiency = "req/s at 100% CPU0 (extrapolated)"
    failed = False
    print("| scenario | limit.c | squall | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for scenario, column, target, label in (
        ("S1", efficiency, 0.9, "efficiency"),
        ("S2", efficiency, 0.9, "efficiency"),
        ("S3", "req/s", 0.5, "req/s"),
        ("S4", efficiency, 0.9, "efficiency"),
    ):
        limit, squall = rows.get(("limit", scenario)), rows.get(("squall", scenario))
        if not limit or not squall:
            continue
        a, b = median(limit[column]), median(squall[column])
        if not a or b is None:
            continue
        ratio = b / a
        met = ratio >= target
        failed |= not met
        print(f"| {scenario} {label} | {a:,.0f} | {b:,.0f} | {ratio:.2f} | >= {target} | "
              f"{'yes' if met else 'NO'} |")
    failed |= compare_with_callback(rows, "web", (("S1", "plaintext c64", 0.85),
                                                  ("S2", "plaintext c256", 0.85),
                                                  ("S4", "json c256", None)))
    failed |= compare_with_callback(rows, "parity", (("S1", "plaintext c64", None),
                                                     ("S2", "plaintext c256", None),
                                                     ("S3", "pipelined c256", None),
                                                     ("S4", "json c256", None)))
    for (server, scenario), row in sorted(rows.items()):
        if server != "squall" or not scenario.startswith("S5 "):
            continue
        kib = median(row["KiB/conn"])
        if kib is None:
            continue
        limit_row = rows.get(("limit", scenario))
        limit_kib = median(limit_row["KiB/conn"]) if limit_row else float("nan")
        met = kib <= 1.5
        failed |= not met
        print(f"| {scenario} KiB/conn | {limit_kib:.2f} | {kib:.2f} | - | <= 1.5 | "
              f"{'yes' if met else 'NO'} |")
    return 1 if failed else 0


def compare_with_callback(rows, server, scenarios):
    """Prints `server`'s requests/s as ratios of the callback server's; True if a target failed."""
    failed = False
    header = False
    for scenario, label, target in scenarios:
        raw, other = rows.get(("squall", scenario)), rows.get((server, scenario))
        if not raw or not other:
            continue
        a, b = median(raw["req/s"]), median(other["req/s"])
        if not a or b is None:
            continue
        if not header:
            print()
            print(f"| scenario | callback | {server} | ratio | target | met |")
            print("|---|---|---|---|---|---|")
            header = True
        ratio = b / a
        met = target is None or ratio >= target
        failed |= not met
        goal = f">= {target}" if target else "-"
        verdict = ("yes" if met else "NO") if target else "-"
        print(f"| {scenario} {label} {server}/callback req/s | {a:,.0f} | {b:,.0f} | "
              f"{ratio:.2f} | {goal} | {verdict} |")
    return failed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
