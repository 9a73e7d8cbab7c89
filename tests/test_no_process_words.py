"""Shipped text speaks to users about the software, never about how it was made.

Checked: README.md, the documentation (docs/, its pages and text files), the concept-card
sources (cards/*.yaml), the string constants of the library, the CLI, the first-party
plugins, app.py and the benchmarks (error messages, figure captions, help, the benchmarks'
JSON output), the benchmarks' shell scripts, and the newest bundled version of each zoo model
(its card and JSON files; published versions never change, so only the newest one counts).
Not checked: zoo-runs/ and zoo-archive/, the repository's own records of past runs.

"Process words" are the vocabulary of how work is organised rather than of what the software
does: work sessions, issue numbers, machine leases, the names of internal tooling.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PROCESS_WORDS = re.compile(
    r"\bsessions?\b"                              # "the fifth CPU session", "this session"
    r"|\bissue[\s_-]*#?\d+"                       # "issue 15", "issue-15", "issue #15"
    r"|\blease[sd]?\b|\bleasing\b|\blent\b"       # "one GPU lease", "no GPU was lent"
    r"|\btool library\b|\bdevice tool\b|\bsub-?agents?\b|\bhelper session"
    r"|\bdevice (?:minutes|time)\b",
    re.IGNORECASE)
# Names users type, which happen to contain a listed word.
ALLOWED = ("gpu_zoo_session.sh", "gpu_zoo_session")


def offending_lines(text: str) -> list[str]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        cleaned = line
        for name in ALLOWED:
            cleaned = cleaned.replace(name, "")
        match = PROCESS_WORDS.search(cleaned)
        if match:
            out.append(f"{number}: …{line[max(0, match.start() - 60):match.end() + 60].strip()}…")
    return out


def python_strings(path: Path) -> str:
    """Every string constant of a module (messages, help, captions, docstrings), one per line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return "\n".join(s.replace("\n", " ") for s in strings)


def _files(pattern_root: Path, *patterns: str) -> list[Path]:
    return sorted({p for pattern in patterns for p in pattern_root.glob(pattern) if p.is_file()})


TEXT_FILES = [REPO / "README.md", *_files(REPO / "docs", "**/*.md", "**/*.txt"),
              *_files(REPO / "cards", "*.yaml"), *_files(REPO / "benchmarks", "*.sh"),
              *_files(REPO / "plugins", "**/*.md", "**/*.toml")]
CODE_FILES = [*_files(REPO / "comet_zoo", "**/*.py"), *_files(REPO / "cli", "**/*.py"),
              *_files(REPO / "plugins", "**/*.py"), *_files(REPO / "benchmarks", "*.py"), REPO / "app.py"]


def newest_bundled() -> list[Path]:
    from comet_zoo.hub.names import sort_versions

    out = []
    for model in sorted(p for p in (REPO / "comet_zoo" / "zoo").iterdir() if p.is_dir()):
        versions = sort_versions([v.name for v in model.iterdir() if v.is_dir()])
        if versions:
            out.append(model / versions[-1])
    return out


def _report(found: dict[str, list[str]]) -> str:
    return "process words in shipped text:\n" + "\n".join(
        f"{where}:{line}" for where, lines in found.items() for line in lines)


def test_the_check_finds_what_it_should():
    for bad in ["No GPU was lent to this session", "the fifth CPU session", "Targets (issue 15)",
                "the issue-15 bar", "one lease we had", "the tool library's fetch", "a subagent"]:
        assert offending_lines(bad), bad
    for good in ["bash benchmarks/gpu_zoo_session.sh 450", "a 2-core x86-64 CPU, torch 2.13, 2026-12-07",
                 "the issues of a data set", "released", "pleased", "a silent run"]:
        assert not offending_lines(good), good


def test_docs_cards_readme_and_scripts_speak_to_users():
    found = {str(p.relative_to(REPO)): offending_lines(p.read_text(encoding="utf-8")) for p in TEXT_FILES}
    found = {k: v for k, v in found.items() if v}
    assert not found, _report(found)


def test_messages_captions_and_benchmark_output_speak_to_users():
    found = {str(p.relative_to(REPO)): offending_lines(python_strings(p)) for p in CODE_FILES if p.exists()}
    found = {k: v for k, v in found.items() if v}
    assert not found, _report(found)


@pytest.mark.parametrize("snapshot", newest_bundled(), ids=lambda p: f"{p.parent.name}@{p.name}")
def test_newest_bundled_version_speaks_to_users(snapshot, request):
    files = _files(snapshot, "*.md", "*.json")
    found = {str(p.relative_to(REPO)): offending_lines(p.read_text(encoding="utf-8")) for p in files}
    found = {k: v for k, v in found.items() if v}
    if found and snapshot.name in PUBLISHED_BEFORE_THIS_CHECK.get(snapshot.parent.name, ()):
        request.applymarker(pytest.mark.xfail(
            reason="published before this check; the next version is generated from clean sources", strict=False))
    assert not found, _report(found)


# The bundled versions whose cards were published before this check existed (published
# versions never change). A version published from now on is checked strictly.
PUBLISHED_BEFORE_THIS_CHECK = {
    "clevr": ("v7",), "clevr-lighting": ("v7",), "clevr-toy": ("v7",), "clevr64": ("v7",),
    "falcor": ("v7",), "tetrominoes": ("v5",),
}
