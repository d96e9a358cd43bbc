"""Content tags: compact, unique per run and message, placed where the profile says and
found again in what a pipeline stored or answered."""

from __future__ import annotations

import pytest

from wiber_harness.workload.tag import (
    TAG_RE,
    base36,
    find_tag,
    make_tag,
    nonce_for,
    tagged_content,
)


def test_base36_and_tags_are_compact_and_distinct() -> None:
    assert [base36(n) for n in (0, 9, 10, 35, 36, 1295)] == ["0", "9", "a", "z", "10", "zz"]
    with pytest.raises(ValueError):
        base36(-1)
    nonce = nonce_for("baseline-1796424648597095561")
    assert nonce == nonce_for("baseline-1796424648597095561") and len(nonce) == 6
    assert nonce != nonce_for("baseline-1796424648597095562")  # another run, another nonce
    tags = {make_tag(nonce, n) for n in range(1, 100_001)}
    assert len(tags) == 100_000 and all(TAG_RE.fullmatch(t) for t in tags)
    assert max(len(t) for t in tags) <= 12


@pytest.mark.parametrize("place", ["prefix", "suffix", "field", None])
def test_content_keeps_its_size_and_gives_its_tag_back(place: str | None) -> None:
    tag = make_tag("k3f9qz", 12345)
    content = tagged_content(tag, place, "u17", 9, 64)
    assert len(content) == 64 and "u17#9 " in content
    if place in ("prefix", "suffix"):
        assert content.startswith(tag + " ") if place == "prefix" else content.endswith(" " + tag)
        assert find_tag(content, place) == tag
    else:
        assert find_tag(content, place) is None  # the content holds none: the field does
        assert find_tag(tag, place) == tag


def test_short_payloads_grow_rather_than_lose_the_tag() -> None:
    tag = make_tag("k3f9qz", 7)
    for place in ("prefix", "suffix"):
        content = tagged_content(tag, place, "u17", 9, 4)
        assert find_tag(content, place) == tag and "u17#9" in content


def test_finding_a_tag_in_text() -> None:
    assert find_tag("abcdef-1 u3#17 ....") == "abcdef-1"
    assert find_tag("u3#17 .... abcdef-2", "suffix") == "abcdef-2"
    assert find_tag("abcdef-1 then abcdef-2", "suffix") == "abcdef-2"
    assert find_tag("abcdef-1 then abcdef-2", "prefix") == "abcdef-1"
    # not a word of its own, or not text at all: no tag
    assert find_tag("xabcdef-1 u3#17") is None and find_tag("abcdef-1-2") is None
    assert find_tag(None) is None and find_tag(17) is None and find_tag("u3#17 ....") is None
