"""Words for values in error sentences: what kind of JSON value something is.

Every reader of a file the harness did not just write (histories, final
reads, results, summaries) says what it found in plain words, e.g. "field
time is a string, not an integer". :func:`kind` gives those words.
"""

from __future__ import annotations


def kind(x: object, *, article: bool = True) -> str:
    """``null``, ``a boolean``, ``an integer``, ``a number``, ``a string``, ``a list``,
    ``an object`` (without the article when ``article`` is False), else the type's name."""
    if x is None:
        return "null"
    for t, a, word in (
        (bool, "a", "boolean"),
        (int, "an", "integer"),
        (float, "a", "number"),
        (str, "a", "string"),
        (list, "a", "list"),
        (dict, "an", "object"),
    ):
        if isinstance(x, t):
            return f"{a} {word}" if article else word
    return type(x).__name__


__all__ = ["kind"]
