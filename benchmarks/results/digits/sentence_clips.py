"""Sentence clips between digits corpora by hard links, for the make.sh files of this folder
(run from the repository root, after ``link_digits_corpus`` of corpus_links.sh):

    python benchmarks/results/digits/sentence_clips.py drop CORPUS
        removes from CORPUS (links of the digits corpus, every clip alone) the files of the
        clips that ``in_sentences = 0.33`` says inside sentences, so that training.commands
        renders them;
    python benchmarks/results/digits/sentence_clips.py twins FROM INTO
        links the sentence clips of FROM (a corpus made by ``drop``: each under its alone
        clip's name) into INTO under the names of their twins (``in_sentences_twins``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from training.core.recipes import load_recipe
from training.data.commands import CommandCorpusConfig, corpus_config, plan

SHARE = 0.33


def alone() -> CommandCorpusConfig:
    """The digits recipe's corpus with every clip alone, as before stop 35."""
    overrides = ["corpus.recordings=data/recordings", "corpus.in_sentences=0"]
    return corpus_config(load_recipe(Path("training/configs/digits.toml"), overrides)["corpus"])


def main(argv: list[str]) -> None:
    wanted = {"drop": 2, "twins": 3}
    if not argv or len(argv) != wanted.get(argv[0]):
        raise SystemExit("usage: sentence_clips.py drop CORPUS | twins FROM INTO")
    base = alone()
    first = plan(base)
    if argv[0] == "drop":
        within = plan(dataclasses.replace(base, in_sentences=SHARE))
        for old, new in zip(first, within, strict=True):
            if new != old:  # said inside a sentence now: rendered again
                Path(argv[1], new.relpath).unlink()
    elif argv[0] == "twins":
        jobs = plan(dataclasses.replace(base, in_sentences=SHARE, in_sentences_twins=True))
        assert jobs[: len(first)] == first
        for job in jobs[len(first) :]:
            original = job.relpath.removesuffix("_within.wav") + ".wav"
            os.link(Path(argv[1], original), Path(argv[2], job.relpath))


if __name__ == "__main__":
    main(sys.argv[1:])
