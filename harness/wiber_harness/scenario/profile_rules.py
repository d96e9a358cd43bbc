"""The rules between keys of a system profile, and the defaults that follow from other keys.

:func:`derive` runs after every key of a profile was checked on its own
(:mod:`wiber_harness.scenario.profile`), on the values it will build the
spec from; it fills in what follows from other keys and reports each rule
that is broken as one problem (``add(FIELD, SENTENCE)``):

* ``[read] param`` not given: the paging's own (``after``, ``offset``,
  ``after``, ``before``); given with ``paging = "none"``: a problem;
* cursor paging with ``[read] items = false`` (a bare list has no place for
  a cursor): a problem;
* ``[http] tag = "field"``: ``tag_field`` must not be another body field,
  and ``[stored] tag`` and ``[read] tag`` default to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wiber_harness.cluster.system_spec import PAGING_PARAM


def derive(
    add: Callable[[str, str], None],
    given: Mapping[str, Mapping[str, Any]],
    values: dict[str, dict[str, Any]],
) -> None:
    """Fill in derived defaults in ``values`` (``given``: the tables as written)."""
    read, http, stored = values["read"], values["http"], values["stored"]
    paging = read["paging"]
    if "param" not in given.get("read", {}):
        read["param"] = PAGING_PARAM.get(paging, read["param"])
    elif paging == "none":
        add("read.param", 'has no use with paging = "none" (one page, no paging); remove it')
    if paging == "cursor" and read["items"] is None:
        add(
            "read.paging",
            "cursor paging needs an object answer that holds the cursor, but items = false "
            "says the answer is a bare list; use paging = offset, after, before or none",
        )
    if http["tag"] != "field":
        return
    taken = {
        http[f]: f
        for f in ("from_field", "to_field", "content_field", "key_field")
        if http[f] is not None
    }
    if http["tag_field"] in taken:
        add(
            "http.tag_field",
            f"'{http['tag_field']}' is already the {taken[http['tag_field']]}; "
            "name a body field of its own",
        )
    for name, table in (("stored", stored), ("read", read)):
        if "tag" not in given.get(name, {}):
            table["tag"] = http["tag_field"]


__all__ = ["derive"]
