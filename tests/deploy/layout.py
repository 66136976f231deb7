"""What the deploy tests read: deploy/'s files, parsed as the tools that use them would."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
IGNORE_FILE = ROOT / "deploy" / "Containerfile.dockerignore"
KUBERNETES = ROOT / "deploy" / "kubernetes"
CONFIG = KUBERNETES / "usagegraph.toml"

_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def config_variables() -> set[str]:
    """Every `${VAR}` usagegraph.toml's values read from the environment (comments do not;
    `$${` is a literal)."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.update(_REFERENCE.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(tomllib.loads(CONFIG.read_text(encoding="utf-8")))
    return found


@dataclass
class Stage:
    """One FROM ... of the container file and its instructions (keyword, argument text)."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [text for kw, text in self.instructions if kw == keyword]


def containerfile_stages() -> list[Stage]:
    """The container file's stages, with continuation lines joined, comments dropped and the
    global ARG defaults substituted into FROM."""
    text = CONTAINERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m[1]], rest)
            parts = image.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            stages[-1].instructions.append((keyword, rest))
    return stages


def exec_form(text: str) -> list[str]:
    """An ENTRYPOINT/CMD argument in exec (JSON) form; a shell form is a test failure."""
    value = json.loads(text)
    assert isinstance(value, list), f"not exec form: {text}"
    return [str(part) for part in value]


def copy_sources(text: str) -> list[str]:
    """The sources of a COPY (flags such as --from dropped); the last word is the target."""
    words = [w for w in shlex.split(text) if not w.startswith("--")]
    return words[:-1]
