"""The virtual environment that runs jira-agile-metrics (bench/peer/run_jam.py).

    from bench.peer.venv import ensure_venv
    python = ensure_venv()   # bench/out/jam-venv/bin/python, made or remade when needed

or ``python bench/peer/venv.py`` (prints that path).

The venv lives in ``bench/out/jam-venv`` (git-ignored) and is made with the running interpreter
(``sys.executable -m venv``). ``bench/peer/requirements.txt`` is a full lock, installed with
``--no-deps --only-binary=:all:``. A stamp file in the venv holds the SHA-256 of the requirements
it was made from: when the file changes (or the venv or its stamp is missing) it is made anew.
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
VENV = HERE.parent / "out" / "jam-venv"
STAMP = VENV / ".requirements.sha256"
LOCK = HERE.parent / "out" / "jam-venv.lock"


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"  # POSIX only, like fcntl below


def _digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _current(python: Path, digest: str) -> bool:
    try:
        return python.exists() and STAMP.read_text().strip() == digest
    except OSError:
        return False


@contextlib.contextmanager
def _locked():
    """One process at a time makes the venv (parallel benchmark runs wait for it)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list, what: str, env: dict | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({result.returncode}): {' '.join(map(str, command))}\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )


def ensure_venv() -> Path:
    """The path of the jira-agile-metrics venv's python, making the venv first if needed."""
    python = _python(VENV)
    digest = _digest()
    if _current(python, digest):
        return python
    with _locked():
        if _current(python, digest):  # made by another process while this one waited
            return python
        print(f"making {VENV} from {REQUIREMENTS.name} ...", file=sys.stderr)
        if VENV.exists():
            shutil.rmtree(VENV)
        _run([sys.executable, "-m", "venv", str(VENV)], "creating the venv")
        _run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--no-deps",
                "--only-binary=:all:",
                "-r",
                str(REQUIREMENTS),
            ],
            "installing bench/peer/requirements.txt",
        )
        # Fails here, not in the middle of a benchmark, if an import is missing from the lock.
        _run(
            [
                str(python),
                "-c",
                "import jira_agile_metrics.querymanager, "
                "jira_agile_metrics.calculators.cycletime, jira_agile_metrics.calculators.cfd",
            ],
            "importing jira-agile-metrics",
            # as run_jam.py sets them: matplotlib headless, its font cache inside the venv
            env={**os.environ, "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(VENV / "mplconfig")},
        )
        STAMP.write_text(digest + "\n")
    return python


if __name__ == "__main__":
    print(ensure_venv())
