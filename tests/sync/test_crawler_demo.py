"""The three crawlers find the same pages, each fetched exactly once."""

from __future__ import annotations

import pytest

from distlab.demos.crawler import CRAWLERS, FakeWeb, compare_crawlers


@pytest.fixture(scope="module")
def web() -> FakeWeb:
    return FakeWeb(80, latency_ms=(0.5, 2.0), seed=4)


@pytest.mark.parametrize("method", list(CRAWLERS))
def test_crawler_finds_every_reachable_page_once(web: FakeWeb, method: str):
    web.reset_counts()
    result = CRAWLERS[method](web)
    assert result.found == web.reachable()
    assert result.not_found and result.not_found < result.found  # dangling links seen
    counts = web.fetch_counts()
    assert set(counts) == result.found
    assert max(counts.values()) == 1, "a page was fetched twice"


def test_all_three_crawlers_agree(web: FakeWeb):
    results = {name: crawl(web) for name, crawl in CRAWLERS.items()}
    assert results["serial"].found == results["mutex"].found == results["channel"].found
    assert results["serial"].not_found == results["channel"].not_found
    report = compare_crawlers(web, repeats=1)
    assert report.same_pages and report.max_fetches_per_page == 1
    assert report.pages == len(web.reachable())
    assert "channel" in report.table()


def test_fake_web_is_seeded():
    assert FakeWeb(50, seed=1).reachable() == FakeWeb(50, seed=1).reachable()
    assert FakeWeb(50, seed=1).reachable() != FakeWeb(50, seed=2).reachable()
