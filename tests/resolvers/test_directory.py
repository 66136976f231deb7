"""The directory file (resolvers/directory.py): a malformed entry is a one-line DirectoryError."""

from __future__ import annotations

from pathlib import Path

import pytest

from usagegraph.resolvers.directory import DirectoryError, load_directory


@pytest.mark.parametrize("links", ['"telzino:org1"', "5"])
def test_links_that_are_not_a_list_name_the_entry(tmp_path: Path, links: str) -> None:
    path = tmp_path / "directory.toml"
    path.write_text(f'[[organizations]]\nid = "acme"\nlinks = {links}\n')
    with pytest.raises(DirectoryError, match=r"organizations\[0\]\.links: must be a list"):
        load_directory(path, sources=["telzino"])


def test_listed_links_load(tmp_path: Path) -> None:
    path = tmp_path / "directory.toml"
    path.write_text('[[organizations]]\nid = "acme"\nlinks = ["telzino:org1"]\n')
    directory = load_directory(path, sources=["telzino"])
    assert [str(link) for link in directory.organizations[0].links] == ["telzino:org1"]
