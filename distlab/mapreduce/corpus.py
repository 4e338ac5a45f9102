"""A small text corpus for the MapReduce chapter, generated from a seed (so it is ours to ship).

The texts are made-up prose: sentences drawn from a hand-written vocabulary with word
frequencies that fall off like natural language (Zipf's law: a few words are very common,
most are rare), which makes word counts and inverted indexes look realistic. Nothing is
copied from any book, so the files carry no copyright; ``distlab/data/`` holds the output of
:func:`write_corpus` with the default seed, and a test checks that they still match.

What it must never do: use global randomness or the clock. One seed gives the same texts on
every machine and Python version (``random.Random`` with an int seed is stable).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

__all__ = ["CORPUS_DIR", "corpus_paths", "generate_corpus", "write_corpus"]

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data"

_VOCABULARY = """
the of and a to in is was it that he she they we you his her their on for with as at by
from this be had not but or are were which one all there so when an what out up if about
who into them some then its than more time could no only other two now very like over
river mill stone road village harbour lantern winter summer morning evening night rain wind
snow field forest garden bridge tower market letter ship sail clock bell window door table
candle book map song story friend stranger keeper baker smith farmer sailor child mother
father sister brother neighbour traveller merchant miller weaver teacher doctor captain
old new small great long short quiet loud bright dark cold warm early late green grey
golden silver wooden narrow wide deep distant gentle heavy careful patient honest clever
walked carried found opened closed waited listened watched counted wrote read kept sent
asked answered remembered forgot followed crossed climbed rested worked mended built
baked sold bought lost gave took called turned looked slowly quickly softly always never
often again together alone almost already perhaps still every many few each another
under behind beside between across through toward along beyond near far inside outside
message copy copies record ledger courier signal crowd queue lamp engine wheel thread
knot rope basket bread apple barley honey salt ink paper seal key lock stair hill valley
lake island coast cliff meadow orchard well fence gate path cart horse goose owl fox
"""

_WORDS = _VOCABULARY.split()


def _sentence(rng: random.Random, weights: list[float]) -> str:
    length = rng.randint(6, 16)
    chosen = rng.choices(_WORDS, weights=weights, k=length)
    text = " ".join(chosen)
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!", "?", ";"])


def generate_corpus(seed: int = 824, files: int = 8, words_per_file: int = 4000) -> list[str]:
    """``files`` texts of about ``words_per_file`` words each, the same for the same seed."""
    rng = random.Random(seed)
    # Zipf: the k-th word of the vocabulary (listed roughly by how common it is in English)
    # appears about 1/k as often as the first.
    weights = [1.0 / rank for rank in range(1, len(_WORDS) + 1)]
    texts = []
    for _ in range(files):
        lines, count = [], 0
        while count < words_per_file:
            paragraph = [_sentence(rng, weights) for _ in range(rng.randint(2, 5))]
            count += sum(len(sentence.split()) for sentence in paragraph)
            lines.append(" ".join(paragraph))
        texts.append("\n\n".join(lines) + "\n")
    return texts


def write_corpus(
    directory: str | os.PathLike[str],
    seed: int = 824,
    files: int = 8,
    words_per_file: int = 4000,
    prefix: str = "text-",
) -> list[Path]:
    """Write :func:`generate_corpus` to ``directory/<prefix>NN.txt`` and return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, text in enumerate(generate_corpus(seed, files, words_per_file)):
        path = directory / f"{prefix}{index:02d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def corpus_paths() -> list[Path]:
    """The shipped corpus files (``distlab/data/text-*.txt``), sorted by name."""
    paths = sorted(CORPUS_DIR.glob("text-*.txt"))
    if not paths:
        raise FileNotFoundError(
            f"no corpus in {CORPUS_DIR}; regenerate it with "
            "distlab.mapreduce.corpus.write_corpus(CORPUS_DIR)"
        )
    return paths
