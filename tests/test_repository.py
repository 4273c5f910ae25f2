"""The repository stands alone: a clone with nothing beside it has everything it needs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED = {".git", ".venv", "node_modules", "staticfiles", "out", "__pycache__", ".ruff_cache"}
CHECKED = {".py", ".sh", ".cfg", ".toml", ".yml", ".yaml", ".ini", ".txt", ".md", ".html", ".js"}
# Built from parts so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            re.escape("../" + "shared"),
            re.escape("parent" + ".parent.parent"),
            r"parents\[[3-9]\]",
            re.escape("/work/" + "shared"),
        ]
    )
)


def tracked_files():
    for path in ROOT.rglob("*"):
        if any(part in SKIPPED for part in path.relative_to(ROOT).parts):
            continue
        if path.is_file() and (path.suffix in CHECKED or path.name in {"Makefile", "run"}):
            yield path


def test_nothing_reads_outside_the_repository():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in tracked_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert found == [], "\n".join(found)


def test_the_third_party_fixtures_say_where_they_come_from():
    sources = (ROOT / "tests" / "fixtures" / "SOURCES.md").read_text()
    for folder in (ROOT / "tests" / "fixtures").iterdir():
        if folder.is_dir():
            assert f"{folder.name}/" in sources, folder.name
