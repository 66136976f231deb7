"""teli emulator (placeholder until the teli emulator lands)."""

from __future__ import annotations

from fastapi import FastAPI

from sandbox.control import SandboxControl
from sandbox.dataset import Dataset


def create_apps(dataset: Dataset, control: SandboxControl) -> dict[str, FastAPI]:
    return {}
