"""Lecture 2's crawler, measured: serial vs Mutex-threads vs Channel-workers on one fake web.

Every crawler runs on the same seeded web (fetch latency simulated with
time.sleep), interleaved over several repeats; the table shows each median
beside the serial baseline measured in the same run, then a final JSON line.

    .venv/bin/python benchmarks/crawler_bench.py --pages 200 --repeats 3
"""

from __future__ import annotations

import argparse
import json

from distlab.demos.crawler import FakeWeb, compare_crawlers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, nargs=2, default=[5.0, 20.0])
    args = parser.parse_args()

    web = FakeWeb(args.pages, latency_ms=tuple(args.latency_ms), seed=args.seed)
    report = compare_crawlers(web, repeats=args.repeats)
    print(
        f"fake web: {args.pages} pages generated, {report.pages} URLs reachable, seed {args.seed}"
    )
    print(report.table())
    print(
        f"all crawlers found the same pages: {report.same_pages}; "
        f"most fetches of one page: {report.max_fetches_per_page}"
    )
    figures = {
        "pages": report.pages,
        "repeats": report.repeats,
        "seconds": {name: round(value, 4) for name, value in report.seconds.items()},
        "speedup_vs_serial": {name: round(report.speedup(name), 2) for name in report.seconds},
        "same_pages": report.same_pages,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
