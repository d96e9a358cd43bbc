"""The repository stands on its own, and its documents say what the code is.

* Every relative link of ``README.md`` and ``docs/*.md`` resolves to a file or
  folder inside the repository, and a ``#anchor`` to a heading of the Markdown
  file it points at.
* ``README.md`` links to nothing outside the repository (no URL, no path that
  leaves it), and no file of the project names the design notes that live
  beside a checkout but not in a clone.
* Every backticked ``wiber_harness.x.y`` or ``wiber.x.y`` name in those
  documents imports (a module, or an attribute of one), and every backticked
  repository path (``harness/...``, ``tests/...``) exists.
* The two import rules ``docs/architecture.md`` states hold: the pipeline never
  imports the harness; the checkers and the metrics import only the harness's
  data modules and nothing that does I/O.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_TICK = re.compile(r"`([^`\n]+)`")
_NAME = re.compile(r"(?:wiber_harness|wiber)(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
_REPO_DIRS: tuple[str, ...] = ("harness/", "system/", "tests/", "scenarios/", "docs/")
_REPO_DIRS += ("profiles/", "docker/", "scripts/", "reports/baselines/")


def _prose(path: Path) -> str:
    """The Markdown text without its fenced code blocks."""
    return _FENCE.sub("", path.read_text(encoding="utf-8"))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _links(path: Path) -> Iterator[str]:
    yield from _LINK.findall(_prose(path))


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in _prose(path).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = _slug(m.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    problems = []
    for target in _links(doc):
        if _URL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.is_relative_to(ROOT):
            problems.append(f"{target}: leaves the repository")
        elif not dest.exists():
            problems.append(f"{target}: {_rel(dest)} does not exist")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            problems.append(f"{target}: {_rel(dest)} has no heading #{anchor}")
    assert not problems, f"{_rel(doc)}: " + "; ".join(problems)


def test_the_readme_links_nothing_outside_the_repository() -> None:
    readme = ROOT / "README.md"
    urls = [t for t in _links(readme) if _URL.match(t)]
    assert not urls, f"README.md links outside the repository: {urls}"
    assert "../" not in readme.read_text(encoding="utf-8"), "README.md names a path above it"
    assert any(t.startswith("docs/architecture.md") for t in _links(readme))


_TEXT = {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".txt", ".cfg", ".ini", ".j2", ".json"}


def _project_files() -> Iterator[Path]:
    yield ROOT / "README.md"
    yield ROOT / "pyproject.toml"
    for top in ("harness", "system", "tests", "scripts", "docker", "profiles", "scenarios"):
        for p in (ROOT / top).rglob("*"):
            if p.is_file() and p.suffix in _TEXT and "__pycache__" not in p.parts:
                yield p
    for top in ("docs", ".ci", ".github"):
        if (ROOT / top).is_dir():
            yield from (p for p in (ROOT / top).rglob("*") if p.is_file())


def test_no_file_points_at_notes_outside_the_repository() -> None:
    # the design notes live next to a checkout (../shared), not in a clone
    files = [p for p in _project_files() if p.resolve() != Path(__file__).resolve()]
    ours = {p.name for p in files}
    words = [n for n in ("DESIGN" + ".md", "ENVIRONMENT" + ".md") if n not in ours]
    words.append(".." + "/shared")
    bad = [
        f"{_rel(p)} names {word}"
        for p in files
        for text in [p.read_text(encoding="utf-8", errors="replace")]
        for word in words
        if word in text
    ]
    assert not bad, "; ".join(bad)


def _resolves(name: str) -> bool:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_every_named_module_and_function_exists(doc: Path) -> None:
    names = {t for t in _TICK.findall(_prose(doc)) if _NAME.fullmatch(t)}
    missing = sorted(n for n in names if not _resolves(n))
    assert not missing, f"{_rel(doc)} names what does not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_every_named_repository_path_exists(doc: Path) -> None:
    paths = {
        t.split("::")[0].rstrip(",")
        for t in _TICK.findall(_prose(doc))
        if t.startswith(_REPO_DIRS) and not re.search(r"[<>*{}\s]", t)
    }
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"{_rel(doc)} names paths that do not exist: {missing}"


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_the_pipeline_never_imports_the_harness() -> None:
    bad = [
        f"{_rel(p)} imports {m}"
        for p in sorted((ROOT / "system").rglob("*.py"))
        for m in _imports(p)
        if m.split(".")[0] == "wiber_harness"
    ]
    assert not bad, "; ".join(bad)


_HARNESS_DATA: tuple[str, ...] = ("history", "reads", "errors", "wellformed", "checkers")
_HARNESS_DATA += ("columns", "memory", "distinct")
_IO = {"os", "io", "pathlib", "shutil", "subprocess", "socket", "http", "urllib", "asyncio"}
_IO |= {"threading", "multiprocessing", "requests", "httpx", "aiohttp", "pymongo", "docker"}
_IO |= {"confluent_kafka", "psutil", "wiber"}


def test_checkers_and_metrics_are_pure() -> None:
    pkg = ROOT / "harness" / "wiber_harness"
    files = [*sorted((pkg / "checkers").glob("*.py")), pkg / "metrics.py"]
    bad = []
    for p in files:
        for m in _imports(p):
            top, _, rest = m.partition(".")
            if top == "wiber_harness" and rest.split(".")[0] not in _HARNESS_DATA:
                bad.append(f"{_rel(p)} imports {m}")
            elif top in _IO:
                bad.append(f"{_rel(p)} imports {m}, which does I/O")
    assert not bad, "; ".join(bad)
