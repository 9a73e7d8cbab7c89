"""Every code block of README.md and docs/*.md runs here, or says why it does not.

The convention, for whoever writes a page:

- ```bash blocks run, in page order, with `bash -e` in one scratch folder per page (so a
  later block sees what an earlier one wrote), against the real `comet` CLI, one COMET_HOME
  that all pages share as a user's cache does (the bundled zoo and a local directory hub),
  and no network. `docs/` and `plugins/` of the repository are visible there, read-only in
  spirit, and `photos/` is a folder of 110 small pictures (the zoo cards' renders at 64 px).
- ```python blocks run in page order too; consecutive python blocks share one interpreter and
  one namespace (a definition in one block is used by the next).
- ```json (a document, or an object's members such as a recipe's `"train": {…}`), ```yaml
  and ```toml blocks must parse. ```text blocks are diagrams or output, not code.
- A block that must not run here is marked on the line before its fence with
  `<!-- not-run: REASON -->` (it downloads, needs a GPU, trains for long, or installs
  packages). Any other block, or a block of another language without the mark, fails.
- `--8<-- "PATH"` lines (the site's snippet includes) are replaced by that repository file.

Small settings, so the whole file stays short: `comet train` trains 2 steps, or 3 when it is
given 300 or more (so that a resumed run still goes on), and `comet eval --n N` scores 8 scenes. The
install commands of a block (`pip install torch==…`, `pip install -e .…`) are what this
environment already did: they are checked against it, not run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```+)\s*([\w+-]*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(.+?)\s*-->$")
SNIPPET = re.compile(r'^--8<--\s+"([^"]+)"\s*$')
RUN = {"bash", "python"}
try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10: TOML blocks are then only shown
    tomllib = None


def _json(text: str):
    """A JSON document, or the members of an object (`"train": {...}`, as a recipe excerpt)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads("{" + text + "}")


PARSE = {"json": _json, "yaml": yaml.safe_load, **({"toml": tomllib.loads} if tomllib else {})}
NOT_CODE = {"text"} | (set() if tomllib else {"toml"})


@dataclass
class Block:
    page: Path
    line: int             # 1-based line of the opening fence
    lang: str
    text: str
    not_run: str | None   # the reason, when marked

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def _include(text: str) -> str:
    """Replace snippet-include lines with the repository file they name."""
    out = []
    for line in text.splitlines():
        match = SNIPPET.match(line.strip())
        out.append((REPO / match.group(1)).read_text(encoding="utf-8").rstrip("\n") if match else line)
    return "\n".join(out) + "\n"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i, previous = [], 0, ""
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        fence, lang, start = match.group(1), match.group(2).lower(), i
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        marked = NOT_RUN.match(previous)
        found.append(Block(page, start + 1, lang, _include("\n".join(body)), marked.group(1) if marked else None))
        i += 1
        previous = ""
    return found


def _page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


# -- shell blocks: install lines checked, small settings -----------------------------------

def _check_install(command: str) -> None:
    """A `pip install …` of a runnable block must be one this environment satisfies."""
    import torch

    for arg in shlex.split(command)[2:]:
        if arg.startswith("torch=="):
            assert torch.__version__.split("+")[0] == arg.split("==")[1], f"{command}: torch is {torch.__version__}"
        elif arg in ("-e", "-q"):
            continue
        elif re.fullmatch(r"\.(\[[a-z,]+\])?", arg):
            import comet_zoo

            assert Path(comet_zoo.__file__).resolve().is_relative_to(REPO), "comet-zoo is not installed from this checkout"
        else:
            raise AssertionError(f"a runnable block installs {arg!r}: mark the block not-run, with the reason")


def _small(command: str) -> str:
    """The test's small settings for one shell command."""
    words = shlex.split(command, comments=True)
    if words[:2] == ["comet", "train"]:
        if "--steps" in words:
            at = words.index("--steps") + 1
            words[at] = str(max(2, min(3, int(words[at]) // 100)))   # 2 or 3: a resume still goes on
        else:
            words += ["--steps", "2"]
    elif words[:2] == ["comet", "eval"] and "--n" in words:
        words[words.index("--n") + 1] = "8"
    else:
        return command
    return shlex.join(words)


def shell_script(text: str) -> str:
    joined = re.sub(r"\\\n\s*", " ", text)          # backslash continuations: one command per line
    out = []
    for line in joined.splitlines():
        while (match := re.match(r"\s*(pip install [^&#]*?)\s*(&&\s*|$)", line)) and line.strip():
            _check_install(match.group(1))
            line = line[match.end():]
        if line.strip():
            out.append(_small(line))
    return "\n".join(out) + "\n"


# -- the runner -------------------------------------------------------------------------

PY_RUNNER = textwrap.dedent("""
    import json, sys, traceback
    namespace = {"__name__": "__docs__"}
    for where, code in json.load(open(sys.argv[1])):
        try:
            exec(compile(code, where, "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            print(f"FAILED: the python block at {where}", file=sys.stderr)
            sys.exit(1)
""")


@pytest.fixture(scope="module")
def user_home(tmp_path_factory):
    """One cache for all pages, as a user has: what one page pulls or infers, the next reuses."""
    return tmp_path_factory.mktemp("comet-home")


@pytest.fixture
def scratch(tmp_path, user_home):
    """A folder like a user's: the repository's docs/ and plugins/ at hand, a folder of
    pictures, the shared cache, no network."""
    work = tmp_path / "work"
    work.mkdir()
    for name in ("docs", "plugins"):
        (work / name).symlink_to(REPO / name)
    photos = work / "photos"     # the examples' "folder of your own pictures": the zoo cards' renders at 64 px,
    photos.mkdir()               # as they are, mirrored and turned (enough for a test split of several images)
    renders = [Image.open(png).convert("RGB").resize((64, 64), Image.BILINEAR)
               for png in sorted((REPO / "comet_zoo" / "zoo").glob("*/v*/exemplars/*.png"))]
    pictures = [*renders, *(r.transpose(Image.FLIP_LEFT_RIGHT) for r in renders), *(r.rotate(180) for r in renders)]
    for i, picture in enumerate(pictures):
        picture.save(photos / f"{i + 1:04d}.png")
    pictures[0].save(photos / "a.jpg")
    pictures[1].save(photos / "b.jpg")
    env = {**os.environ, "COMET_HOME": str(user_home), "COMET_CONFIG": str(user_home / "no-config.toml"),
           "HF_HOME": str(user_home / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("COMET_HUB", None)
    return work, env


def _run(args: list[str], work: Path, env: dict, where: str) -> None:
    done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{where} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def run_page(page: Path, work: Path, env: dict) -> int:
    """Run the page's runnable blocks in order; returns how many ran."""
    runnable = [b for b in blocks(page) if b.not_run is None and b.lang in RUN]
    ran, i = 0, 0
    while i < len(runnable):
        block = runnable[i]
        if block.lang == "bash":
            script = work.parent / f"block-{block.line}.sh"
            script.write_text("set -euo pipefail\n" + shell_script(block.text))
            _run(["bash", str(script)], work, env, block.where)
            i += 1
        else:   # a run of consecutive python blocks: one interpreter, one namespace
            group = []
            while i < len(runnable) and runnable[i].lang == "python":
                group.append([runnable[i].where, runnable[i].text])
                i += 1
            code = work.parent / f"blocks-{block.line}.json"
            code.write_text(json.dumps(group))
            _run([sys.executable, "-c", PY_RUNNER, str(code)], work, env, block.where)
        ran += 1
    return ran


# -- the tests --------------------------------------------------------------------------

def test_every_block_runs_or_says_why():
    problems = []
    for page in PAGES:
        for block in blocks(page):
            if block.not_run is not None:
                if len(block.not_run) < 10:
                    problems.append(f"{block.where}: the not-run reason is too short to help: {block.not_run!r}")
            elif block.lang in PARSE:
                try:
                    PARSE[block.lang](block.text)
                except Exception as exc:
                    problems.append(f"{block.where}: the {block.lang} block does not parse: {exc}")
            elif block.lang not in RUN | NOT_CODE:
                problems.append(f"{block.where}: a ```{block.lang or '(no language)'} block is neither run nor "
                                "marked <!-- not-run: REASON -->")
    assert not problems, "\n".join(problems)


def test_readme_test_command_is_what_ci_runs():
    readme = next(b for b in blocks(REPO / "README.md") if "pytest" in b.text)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert readme.text.strip() in ci.splitlines(), "README's test command and .ci/run differ"


def test_small_settings():
    assert _small("comet train quickstart --out runs/q") == "comet train quickstart --out runs/q --steps 2"
    assert _small("comet train x --steps 300 --resume   # go on") == "comet train x --steps 3 --resume"
    assert _small("comet train --data ./photos --steps 2000") == "comet train --data ./photos --steps 3"
    assert _small("comet eval clevr --dataset clevr --n 1000") == "comet eval clevr --dataset clevr --n 8"
    assert shell_script("pip install torch==2.13.0 && pip install -e . && comet list\n") == "comet list\n"
    with pytest.raises(AssertionError, match="mark the block"):
        shell_script("pip install ./plugins/examples/comet-stripes\n")


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.not_run is None and b.lang in RUN for b in blocks(p))],
                         ids=_page_id)
def test_page_examples_run(page, scratch):
    work, env = scratch
    run_page(page, work, env)


def test_cli_reference_covers_every_command():
    """The site's CLI page is generated from the app: every command and option is on it."""
    pytest.importorskip("mkdocs")
    import importlib.util

    import typer

    from comet_zoo.cli.main import app

    spec = importlib.util.spec_from_file_location("cli_reference", REPO / "docs" / "hooks" / "cli_reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = hook.cli_markdown()
    root = typer.main.get_command(app)
    for name, command in root.commands.items():
        assert f"`comet {name}`" in page, name
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert opt in page, f"comet {name} {opt}"
