"""The README and docs/ stay a set of pages that link correctly, and the README stays short.

Every relative link in README.md and docs/*.md must name an existing file, and an anchor
(`#...`) an existing heading of that page under GitHub's slug rules. The configuration page must
list every setting with the default the code has, so the reference cannot drift from it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from usagegraph import settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_BYTES = 16_384

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def without_code(text: str) -> str:
    """The page without fenced blocks and inline code, where `[x](y)` is no link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: link targets dropped, lowercase, punctuation other
    than `-` and `_` removed, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor on the page; repeated headings get `-1`, `-2`, ... as on GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(page: Path) -> list[str]:
    text = without_code(page.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if not SCHEME.match(target)]


def test_github_slug_follows_githubs_rules() -> None:
    assert github_slug("Server CPU per request (`python -m bench.cpu`)") == (
        "server-cpu-per-request-python--m-benchcpu"
    )
    assert github_slug("Answers: coalescing and the whole-answer cache") == (
        "answers-coalescing-and-the-whole-answer-cache"
    )
    assert github_slug("[Caching](caching.md) and `[cache]`") == "caching-and-cache"


def test_a_missing_anchor_is_noticed(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Same\n\n## Same\n\n```\n# not a heading\n```\n")
    assert anchors(page) == {"title", "same", "same-1"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with that anchor in {linked.name}")
    assert broken == []


CODE_FOLDERS = ("schema", "resolvers", "clients", "usagegraph", "sandbox")
DOCS_REFERENCE = re.compile(r"docs/([\w.-]+\.md)(?:#([\w-]+))?")


def code_references() -> list[tuple[str, str, str]]:
    """(file, page, anchor) for each `docs/<page>.md[#anchor]` a comment or docstring names."""
    files = [ROOT / "pyproject.toml"]
    files += [p for folder in CODE_FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))]
    return [
        (path.relative_to(ROOT).as_posix(), page, anchor)
        for path in files
        for page, anchor in DOCS_REFERENCE.findall(path.read_text(encoding="utf-8"))
    ]


def test_docs_pages_and_anchors_named_in_code_exist() -> None:
    references = code_references()
    assert any(anchor for _file, _page, anchor in references)
    broken = [
        f"{file}: docs/{page}#{anchor}"
        for file, page, anchor in references
        if not (ROOT / "docs" / page).is_file()
        or (anchor and anchor not in anchors(ROOT / "docs" / page))
    ]
    assert broken == []


def test_readme_links_every_docs_page() -> None:
    linked = {target.partition("#")[0] for target in relative_links(ROOT / "README.md")}
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert pages - linked == set()


def test_readme_stays_a_short_page() -> None:
    assert len((ROOT / "README.md").read_bytes()) <= README_MAX_BYTES


SECTIONS: dict[str, type[BaseModel]] = {
    "server": settings.ServerSettings,
    "graph": settings.GraphSettings,
    "limits": settings.LimitsSettings,
    "observability": settings.ObservabilitySettings,
    "cache": settings.CacheSettings,
    "persisted_queries": settings.PersistedQueriesSettings,
}


def configuration_page() -> str:
    return (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def every_section_block() -> tuple[str, dict]:
    """The TOML block of configuration.md's "Every section", as text and parsed."""
    block = re.search(r"## Every section\n.*?```toml\n(.*?)```", configuration_page(), re.S)
    assert block is not None, "docs/configuration.md has no 'Every section' TOML block"
    return block.group(1), tomllib.loads(block.group(1))


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_configuration_page_lists_every_setting_with_its_default(section: str) -> None:
    text, parsed = every_section_block()
    shown = parsed.get(section, {})
    wrong = {}
    for name, field in SECTIONS[section].model_fields.items():
        if field.default is None:
            # computed defaults (deadline, discovery TTL) and optional values (Redis URL,
            # manifest) are shown as a line or a comment that names them
            if not re.search(rf"\b{name}\b", text):
                wrong[name] = "not mentioned"
        elif shown.get(name) != field.default:
            wrong[name] = f"page: {shown.get(name)!r}, code: {field.default!r}"
    assert wrong == {}


def test_configuration_page_lists_every_source_key_with_its_default() -> None:
    rows = dict(re.findall(r"^  \| `(\w+)` \| `([^`]+)` \|", configuration_page(), re.M))
    kinds = (settings.TelzinoSource, settings.TeliSource, settings.TalkdeskSource)
    shared = set.intersection(*(set(kind.model_fields) for kind in kinds))
    # the tuning keys: what every kind has, with a default
    source_keys = {
        name: field.default
        for name, field in settings.TeliSource.model_fields.items()
        if name in shared and not any(kind.model_fields[name].is_required() for kind in kinds)
    }
    assert len(source_keys) >= 9
    assert {name: rows.get(name) for name in source_keys} == {
        name: repr(default) if isinstance(default, float) else str(default)
        for name, default in source_keys.items()
    }


# a repository path as the pages name it in prose or code, e.g. `clients/transport.py`
REPO_PATH = re.compile(
    r"(?<![\w/.-])((?:usagegraph|schema|resolvers|clients|sandbox|bench|tests|tools|deploy|docs"
    r"|examples|federation|web)/[\w./-]*\w\.(?:py|md|toml|json|ya?ml|mjs|ts|lock|txt))"
)


def named_paths(text: str) -> set[str]:
    return set(REPO_PATH.findall(text))


def test_a_path_pattern_finds_the_files_pages_name() -> None:
    text = "see `clients/transport.py:120`, usagegraph/persisted/store.py and tests/x/test_y.py."
    assert named_paths(text) == {
        "clients/transport.py",
        "usagegraph/persisted/store.py",
        "tests/x/test_y.py",
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_file_a_page_names_exists(page: Path) -> None:
    """Modules move (issue 17 split several): a page naming a file that is gone misleads."""
    missing = sorted(
        p for p in named_paths(page.read_text(encoding="utf-8")) if not (ROOT / p).exists()
    )
    assert missing == []
