"""The lecture-2 web crawler, three ways, over an in-memory fake web.

A crawler starts from one URL, fetches the page, and follows its links; it must
fetch each page once, even though the web graph has cycles. Fetching is slow
(network latency) but cheap for the CPU, so overlapping many fetches with
threads gives a large speed-up even under the GIL: a sleeping thread releases it.

- `crawl_serial`: depth-first, one fetch at a time, a plain ``set`` of visited URLs.
- `crawl_concurrent_mutex`: a thread per URL; the visited set is shared, so the
  check-and-mark is done under a `Mutex` (otherwise two threads could both see
  "not visited" and fetch the page twice), and a `WaitGroup` waits for children.
- `crawl_concurrent_channel`: workers share nothing. Each fetches one page and
  sends its links on a `Channel`; one coordinator owns the visited set and
  counts outstanding workers, stopping when none are left (as in the Go tour).

All three must find exactly the same pages. `FakeWeb` is seeded: the same seed
builds the same graph with the same per-page latencies; it counts fetches so a
test can prove no page was fetched twice.

What this module must never do: touch the real network, or leave threads
running after a crawl returns (every crawl waits for its workers, with a
deadline).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from distlab.sync import Channel, Mutex, WaitGroup

__all__ = [
    "CRAWLERS",
    "CrawlComparison",
    "CrawlResult",
    "FakeWeb",
    "PageNotFound",
    "compare_crawlers",
    "crawl_concurrent_channel",
    "crawl_concurrent_mutex",
    "crawl_serial",
]

CRAWL_TIMEOUT_S = 60.0


class PageNotFound(LookupError):
    """The fake web has no page at this URL (a dangling link)."""


class FakeWeb:
    """A seeded, in-memory web: ``pages`` URLs, each linking to a few others.

    ``fetch(url)`` sleeps for the page's latency (drawn once per page from
    ``latency_ms``) and returns its links, or raises `PageNotFound` for a
    dangling link (about ``dangling`` of all links point nowhere).
    """

    def __init__(
        self,
        pages: int = 100,
        *,
        links_per_page: tuple[int, int] = (1, 5),
        latency_ms: tuple[float, float] = (5.0, 20.0),
        dangling: float = 0.05,
        seed: int = 0,
    ) -> None:
        if pages < 1:
            raise ValueError("a web needs at least one page")
        rng = random.Random(seed)
        self.root = "http://site.test/0"
        urls = [f"http://site.test/{i}" for i in range(pages)]
        self._links: dict[str, list[str]] = {}
        self._latency_s: dict[str, float] = {}
        for i, url in enumerate(urls):
            count = rng.randint(*links_per_page)
            links = []
            for _ in range(count):
                if rng.random() < dangling:
                    links.append(f"http://site.test/missing-{i}-{rng.randrange(10**6)}")
                else:
                    links.append(rng.choice(urls))
            self._links[url] = links
            self._latency_s[url] = rng.uniform(*latency_ms) / 1000.0
        self._fetch_counts: dict[str, int] = {}
        self._counts_guard = threading.Lock()

    def fetch(self, url: str) -> list[str]:
        """Simulate an HTTP GET: wait for the latency, return the page's links."""
        with self._counts_guard:
            self._fetch_counts[url] = self._fetch_counts.get(url, 0) + 1
        if url not in self._links:
            time.sleep(min(self._latency_s.values()))
            raise PageNotFound(url)
        time.sleep(self._latency_s[url])
        return list(self._links[url])

    def reachable(self) -> frozenset[str]:
        """Every URL reachable from the root (dangling ones included), without fetching."""
        seen = {self.root}
        stack = [self.root]
        while stack:
            for link in self._links.get(stack.pop(), []):
                if link not in seen:
                    seen.add(link)
                    stack.append(link)
        return frozenset(seen)

    def fetch_counts(self) -> dict[str, int]:
        """How many times each URL was fetched since the last `reset_counts`."""
        with self._counts_guard:
            return dict(self._fetch_counts)

    def reset_counts(self) -> None:
        """Forget the fetch counts (before a new crawl)."""
        with self._counts_guard:
            self._fetch_counts.clear()


@dataclass(frozen=True)
class CrawlResult:
    """The URLs a crawler visited (fetched or found dangling), and how long it took."""

    method: str
    found: frozenset[str]
    not_found: frozenset[str]
    seconds: float

    @property
    def pages(self) -> int:
        """Number of URLs visited."""
        return len(self.found)


def crawl_serial(web: FakeWeb) -> CrawlResult:
    """Depth-first, one fetch at a time."""
    started = time.perf_counter()
    visited: set[str] = set()
    missing: set[str] = set()
    stack = [web.root]
    while stack:
        url = stack.pop()
        if url in visited:
            continue
        visited.add(url)
        try:
            links = web.fetch(url)
        except PageNotFound:
            missing.add(url)
            continue
        stack.extend(reversed(links))
    return CrawlResult(
        "serial", frozenset(visited), frozenset(missing), time.perf_counter() - started
    )


def crawl_concurrent_mutex(web: FakeWeb) -> CrawlResult:
    """One thread per URL; a Mutex guards the shared visited set; a WaitGroup joins."""
    started = time.perf_counter()
    visited: set[str] = set()
    missing: set[str] = set()
    mutex = Mutex("visited")
    errors: list[BaseException] = []

    def crawl(url: str, group: WaitGroup) -> None:
        try:
            with mutex:
                # Check and mark in one critical section: split in two, two
                # threads could both see "not visited" and fetch the page twice.
                already = url in visited
                visited.add(url)
            if already:
                return
            try:
                links = web.fetch(url)
            except PageNotFound:
                with mutex:
                    missing.add(url)
                return
            children = WaitGroup()
            for link in links:
                children.add(1)
                threading.Thread(target=crawl, args=(link, children), daemon=True).start()
            if not children.wait(CRAWL_TIMEOUT_S):
                raise TimeoutError(f"children of {url} did not finish")
        except BaseException as error:  # a worker must never die silently
            with mutex:
                errors.append(error)
        finally:
            group.done()

    top = WaitGroup()
    top.add(1)
    crawl(web.root, top)
    if not top.wait(CRAWL_TIMEOUT_S) or errors:
        raise RuntimeError(f"mutex crawler failed: {errors[:1] or 'timeout'}")
    return CrawlResult(
        "mutex", frozenset(visited), frozenset(missing), time.perf_counter() - started
    )


def crawl_concurrent_channel(web: FakeWeb) -> CrawlResult:
    """Workers fetch and send link lists on a Channel; one coordinator owns all state."""
    started = time.perf_counter()
    results: Channel[tuple[str, list[str] | None]] = Channel(capacity=0, name="links")

    def worker(url: str) -> None:
        try:
            links: list[str] | None = web.fetch(url)
        except PageNotFound:
            links = None  # tell the coordinator; it must still count this worker as done
        results.send((url, links), timeout=CRAWL_TIMEOUT_S)

    # The coordinator: only this thread reads or writes `visited`, so no lock.
    visited = {web.root}
    missing: set[str] = set()
    outstanding = 1
    threading.Thread(target=worker, args=(web.root,), daemon=True).start()
    while outstanding > 0:
        url, links = results.recv(timeout=CRAWL_TIMEOUT_S)
        outstanding -= 1
        if links is None:
            missing.add(url)
            continue
        for link in links:
            if link not in visited:
                visited.add(link)
                outstanding += 1
                threading.Thread(target=worker, args=(link,), daemon=True).start()
    return CrawlResult(
        "channel", frozenset(visited), frozenset(missing), time.perf_counter() - started
    )


CRAWLERS: dict[str, Callable[[FakeWeb], CrawlResult]] = {
    "serial": crawl_serial,
    "mutex": crawl_concurrent_mutex,
    "channel": crawl_concurrent_channel,
}


@dataclass(frozen=True)
class CrawlComparison:
    """Median seconds per crawler over ``repeats`` runs of the same web, in one process."""

    pages: int
    repeats: int
    seconds: dict[str, float]
    same_pages: bool
    max_fetches_per_page: int

    def speedup(self, method: str) -> float:
        """How many times faster ``method`` was than the serial crawler in this run."""
        return self.seconds["serial"] / self.seconds[method]

    def table(self) -> str:
        """A small text table: method, median seconds, speed-up vs serial."""
        lines = [f"{'crawler':<10}{'median s':>10}{'vs serial':>11}"]
        for method, seconds in self.seconds.items():
            lines.append(f"{method:<10}{seconds:>10.3f}{self.speedup(method):>10.1f}x")
        return "\n".join(lines)


def compare_crawlers(web: FakeWeb, repeats: int = 3) -> CrawlComparison:
    """Run all three crawlers ``repeats`` times (interleaved) on ``web`` and compare.

    Interleaving the methods spreads the noise of a shared machine over all of
    them instead of punishing whichever ran during a busy moment.
    """
    times: dict[str, list[float]] = {name: [] for name in CRAWLERS}
    found: set[frozenset[str]] = set()
    max_fetches = 0
    for _ in range(repeats):
        for name, crawl in CRAWLERS.items():
            web.reset_counts()
            result = crawl(web)
            max_fetches = max(max_fetches, *web.fetch_counts().values())
            times[name].append(result.seconds)
            found.add(result.found)
    return CrawlComparison(
        pages=len(next(iter(found))),
        repeats=repeats,
        seconds={name: statistics.median(values) for name, values in times.items()},
        same_pages=len(found) == 1,
        max_fetches_per_page=max_fetches,
    )
