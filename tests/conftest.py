"""Shared fixtures live in tests/fixtures; registered here so every test folder sees them."""

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.graph",
    "tests.fixtures.parsing",
    "tests.fixtures.redis",
    "tests.fixtures.seeds",
]
