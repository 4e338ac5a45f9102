"""The course map stays true: every chapter is in the README, numbered in lecture order, titled
in one style (``# NN · Title · lecture L``), and cross-references name chapters that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def title(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join(cells[0]["source"]).splitlines()[0]


def lectures(path: Path) -> list[int]:
    found = re.search(r"· lectures? ([0-9–, and]+)$", title(path))
    assert found, f"{path.name}: the title does not end with '· lecture(s) ...': {title(path)!r}"
    numbers = [int(n) for n in re.findall(r"\d+", found.group(1))]
    if "–" in found.group(1):
        numbers = list(range(numbers[0], numbers[-1] + 1))
    return numbers


def test_every_chapter_is_in_the_readme_and_the_welcome_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    welcome = (ROOT / "notebooks" / "00_welcome.ipynb").read_text(encoding="utf-8")
    for chapter in CHAPTERS:
        assert f"`{chapter.stem}`" in readme, f"README's course table misses {chapter.stem}"
        if chapter.stem != "00_welcome":
            assert f"`{chapter.stem}`" in welcome, f"chapter 00 misses {chapter.stem}"


def test_titles_carry_their_number_and_chapters_follow_the_lectures() -> None:
    """01-05 are lectures 1-2 (MapReduce, lecture 1, comes after RPC, which it runs on); from
    06 on, each chapter's latest lecture never goes back (16, real systems, revisits)."""
    latest = 2
    for chapter in CHAPTERS:
        number = int(chapter.name[:2])
        assert title(chapter).startswith(f"# {chapter.name[:2]} · "), title(chapter)
        if number == 0:
            continue
        if number <= 5:
            assert max(lectures(chapter)) <= 2, chapter.name
        elif number < 16:
            assert max(lectures(chapter)) >= latest, f"{chapter.name} goes back in the lectures"
            latest = max(lectures(chapter))


def test_chapter_references_name_chapters_that_exist() -> None:
    numbers = {int(chapter.name[:2]) for chapter in CHAPTERS}
    planned: set[int] = set()  # chapters with open issues, named as "to come"
    for path in [*CHAPTERS, ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\b[Cc]hapter (\d+)\b", text):
            number = int(match.group(1))
            assert number in numbers | planned, f"{path.name} names chapter {number}"
