"""The distribution: every imported library is declared (in the base or the part's extra), the
TAP side imports without the training libraries, packages hold code and package data only, and
an installed (not editable) xpha works from another directory."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PARTS = ("sql", "ingest", "training", "tap_service", "xpha")
# part -> the extras (beyond the base) that its imports may come from
PART_EXTRAS = {
    "sql": (),
    "ingest": (),
    "xpha": (),
    "training": ("train",),
    "tap_service": ("serve",),
}
TRAINING_LIBRARIES = ("torch", "xgboost", "lightgbm", "dask", "distributed", "sklearn")
PACKAGE_FILE_TYPES = {
    ".py",
    ".sql",
    ".csv",
    ".md",
    ".json",
    ".zip",
    ".fits",
    ".vot",
    ".txt",
    ".ecsv",
    ".yaml",
    ".xml",
    ".npz",
    ".gz",
    ".html",
    "",
}  # "": Dockerfile


def requirement_names(requirements: list[str]) -> set[str]:
    """Normalised distribution names of PEP 508 requirement strings."""
    return {_normal(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_imports(part: str) -> dict[str, set[str]]:
    """Top-level module -> the files of ``part`` that import it, for modules outside the
    standard library and the project."""
    found: dict[str, set[str]] = {}
    for path in (REPO / part).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in PARTS:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize("part", PARTS)
def test_every_imported_library_is_declared(part: str) -> None:
    optional = PYPROJECT["project"]["optional-dependencies"]
    allowed = requirement_names(PYPROJECT["project"]["dependencies"])
    for extra in PART_EXTRAS[part]:
        allowed |= requirement_names(optional[extra])
    providers = importlib.metadata.packages_distributions()
    missing = {
        module: sorted(files)
        for module, files in third_party_imports(part).items()
        if not {_normal(d) for d in providers.get(module, [module])} & allowed
    }
    assert missing == {}, f"{part} imports libraries its requirements do not declare"


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        (
            ["psycopg[binary]>=3.2", "sqlglot[c]==30.30.0", "PyYAML>=6"],
            {"psycopg", "sqlglot", "pyyaml"},
        ),
        (
            ["astropy-healpix>=1.0", "scikit_learn", "torch ; python_version>'3'"],
            {"astropy-healpix", "scikit-learn", "torch"},
        ),
    ],
)
def test_requirement_names(requirements: list[str], expected: set[str]) -> None:
    assert requirement_names(requirements) == expected


BLOCKER = f"""
import importlib, pkgutil, sys
for name in {TRAINING_LIBRARIES!r}:
    sys.modules[name] = None  # as if not installed: import fails, find_spec says absent
for part in ("sql", "tap_service"):
    package = importlib.import_module(part)
    for module in pkgutil.walk_packages(package.__path__, part + "."):
        importlib.import_module(module.name)
from xpha.cli import main
sys.argv = ["xpha", "--help"]
main()
"""


def test_the_serving_side_imports_without_the_training_libraries() -> None:
    """What the TAP image installs (`.[serve]`) is enough for sql/, tap_service/ and the CLI."""
    result = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True,
                            cwd=REPO, check=False, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "serve" in result.stdout and "train" in result.stdout


def test_the_blocker_blocks() -> None:
    source = BLOCKER.replace("from xpha.cli import main", "import torch\nfrom xpha.cli import main")
    result = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                            cwd=REPO, check=False, timeout=300)  # fmt: skip
    assert result.returncode != 0 and "ModuleNotFoundError: import of torch halted" in result.stderr


@pytest.mark.parametrize("part", PARTS)
def test_packages_hold_code_and_package_data_only(part: str) -> None:
    tracked = subprocess.run(["git", "ls-files", part], capture_output=True, text=True, cwd=REPO,
                             check=True).stdout.split()  # fmt: skip
    others = [name for name in tracked if Path(name).suffix not in PACKAGE_FILE_TYPES]
    assert others == [], "run outputs (figures, reports, scripts) belong in var/ or docs/results/"


def _install(tmp_path: Path, with_dependencies: bool) -> Path:
    """A fresh venv with xpha installed by pip from a clean copy of the tracked files (never
    editable); without ``with_dependencies`` the libraries come from this environment."""
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], capture_output=True, cwd=REPO,
                             check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, tracked):
        if (REPO / name).is_file() and not name.startswith(("tests/", "docs/")):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    if with_dependencies:
        install = [str(python), "-m", "pip", "install", "-q", str(source)]
    else:
        # the build needs this environment's setuptools; the fresh venv then sees the libraries
        # installed here (a .pth), not this checkout
        wheels = tmp_path / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "-w", str(wheels), str(source)],
                       check=True, timeout=600)  # fmt: skip
        purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                  "['purelib'])"], capture_output=True, text=True,
                                 check=True).stdout.strip()  # fmt: skip
        Path(purelib, "xpha-test-libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        install = [str(python), "-m", "pip", "install", "-q", "--no-deps",
                   str(next(wheels.glob("xpha-*.whl")))]  # fmt: skip
    subprocess.run(install, check=True, timeout=1800)
    return venv


def _use_installed(venv: Path, db_url: str, workdir: Path) -> None:
    """`xpha demo --help`, then a small simulate + ingest, from a directory that is not the
    checkout: package data through importlib.resources, run outputs in ./var."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPHA_")}
    env.update(XPHA_DATABASE_URL=db_url, PYTHONPATH="")
    workdir.mkdir()

    def run(*words: str) -> str:
        result = subprocess.run([str(venv / "bin" / words[0]), *words[1:]], capture_output=True,
                                text=True, cwd=workdir, env=env, check=False, timeout=600)  # fmt: skip
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        return result.stdout

    assert "--n-sources" in run("xpha", "demo", "--help")
    where = run("python", "-c", "import ingest, xpha; from sql.settings import Settings; "
                "print(ingest.__file__); print(xpha.__file__); print(Settings().var_dir)")  # fmt: skip
    ingest_file, xpha_file, var_dir = where.split()
    for file in (ingest_file, xpha_file):
        assert Path(file).is_relative_to(venv) and not Path(file).is_relative_to(REPO), file
    assert Path(var_dir) == workdir / "var"
    run("xpha", "simulate", "--out", "sky", "--n-sources", "300", "--seed", "3", "--no-progress")
    loaded = run("xpha", "ingest", "gaia-xp", "sky/xp_continuous")
    assert "300 rows read, 300 new" in loaded, loaded
    assert not any(Path(venv).rglob("var")), "nothing is written inside the installation"


def test_installed_xpha_works_from_another_directory(tmp_path: Path, db_url: str) -> None:
    venv = _install(tmp_path, with_dependencies=False)
    _use_installed(venv, db_url, tmp_path / "elsewhere")


@pytest.mark.slow
def test_pip_install_with_its_dependencies_works_from_another_directory(
    tmp_path: Path, db_url: str
) -> None:
    """`pip install .` resolving the declared dependencies from the package index (network)."""
    venv = _install(tmp_path, with_dependencies=True)
    _use_installed(venv, db_url, tmp_path / "elsewhere")
