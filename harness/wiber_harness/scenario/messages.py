"""Validation problems as sentences: ``FILE: FIELD: what is wrong; how to fix it``.

Validators raise :func:`problem` / :func:`problems` (a pydantic custom
error of type ``"wiber"`` carrying ``(path, detail)`` pairs relative to the
validator's location); :func:`sentences` turns a ``ValidationError`` into
one sentence per problem (one line each, whatever the keys and values it
names hold: :func:`wiber_harness.printable.one_line`), those and pydantic's
own errors alike, naming the field's description (from the models
reachable from the root model) and the allowed keys of the model an unknown
key was found in.
"""

from __future__ import annotations

import difflib
import functools
import typing
from collections.abc import Iterable
from typing import TypeGuard

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from wiber_harness.printable import clip, one_line, shown

_TYPE_WORDS = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "tuple_type": "a list",
    "list_type": "a list",
}
_SIGNS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def suggest(word: str, choices: Iterable[str]) -> str:
    """``"did you mean 'X'? "`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def problem(path: str, detail: str) -> PydanticCustomError:
    """A validation problem at ``path`` below the validator's own location."""
    return PydanticCustomError(
        "wiber", "{detail}", {"problems": [(path, detail)], "detail": detail}
    )


def problems(items: list[tuple[str, str]]) -> PydanticCustomError:
    """Several problems at once, each ``(path, detail)`` as for :func:`problem`."""
    return PydanticCustomError("wiber", "{detail}", {"problems": items, "detail": items[0][1]})


def unknown_key(model: type[BaseModel], key: str) -> str:
    """What is wrong with an unknown key of ``model``, and its allowed keys."""
    allowed = [f.alias or n for n, f in model.model_fields.items()]
    return (
        f"unknown key '{clip(key)}'; {suggest(key, allowed)}allowed keys are {', '.join(allowed)}"
    )


def is_num(v: object) -> TypeGuard[int | float]:
    """A number, but not a bool."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("["):
            out += clip(part)
        elif part:  # a key of the file: shown escaped and bounded
            out += f".{clip(part)}" if out else clip(part)
    return out


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (for its allowed keys)."""
    model = root
    for part in loc:
        if isinstance(part, int):
            continue  # an element of a tuple of models: same model
        info = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        if info is None:
            return None
        inner = _models_in(info.annotation)
        if not inner:
            return None
        model = inner[0]
    return model


@functools.cache
def _descriptions(root: type[BaseModel]) -> dict[str, str]:
    """Field (alias or name) -> description, over every model reachable from ``root``."""
    out: dict[str, str] = {}
    todo, seen = [root], {root}
    while todo:
        model = todo.pop(0)
        for name, info in model.model_fields.items():
            out.setdefault(info.alias or name, info.description or "")
            for inner in _models_in(info.annotation):
                if inner not in seen:
                    seen.add(inner)
                    todo.append(inner)
    return out


def sentences(source: str, err: ValidationError, root: type[BaseModel]) -> list[str]:
    """One sentence per problem of ``err``, raised validating ``root`` from ``source``."""
    out: list[str] = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        typ, ctx, given = e["type"], e.get("ctx") or {}, e.get("input")
        if typ == "wiber":
            out += [
                one_line(f"{source}: {_path((*loc, p)) or 'scenario'}: {d}")
                for p, d in ctx["problems"]
            ]
            continue
        path = _path(loc) or "scenario"
        field = str(loc[-1]) if loc else ""
        what = _descriptions(root).get(field, "")
        hint = f" ({what})" if what else ""
        if typ == "missing":
            detail = f"required field is missing; add {field}:{hint}"
        elif typ in _TYPE_WORDS:
            detail = f"must be {_TYPE_WORDS[typ]}, not {shown(given)}; fix the value{hint}"
        elif typ in _SIGNS:
            sign = _SIGNS[typ]
            raw_bound = next(iter(ctx.values()))
            bound = f"{raw_bound:g}" if isinstance(raw_bound, float) else str(raw_bound)
            detail = f"must be {sign} {bound}, not {shown(given)}; use a value {sign} {bound}{hint}"
        elif typ == "string_pattern_mismatch":
            detail = (
                f"{shown(given)} is not allowed; "
                "use lower-case letters, digits and dashes, like 'leader-kill'"
            )
        elif typ == "string_too_short":
            detail = f"must not be empty; write{hint}"
        elif typ == "extra_forbidden":
            model = _model_at(root, loc[:-1])
            detail = unknown_key(model, field) if model else "unknown key; remove it"
        else:
            detail = f"{clip(e['msg'], 200)} (got {shown(given)}); fix the value{hint}"
        out.append(one_line(f"{source}: {path}: {detail}"))
    return out


__all__ = ["is_num", "problem", "problems", "sentences", "suggest", "unknown_key"]
