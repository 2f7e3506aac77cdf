"""CI: build every workspace distribution and check it is fit to publish.

    uv run python scripts/check_dists.py [--keep DIR]

- `uv build --all-packages` builds an sdist and a wheel of each workspace member (the wheel from the sdist, so
  an sdist that lacks a file its build needs fails here);
- `twine check --strict` checks each one's metadata and that its README renders on PyPI;
- each sdist holds only its own package (plus pyproject.toml, README.md, LICENSE, PKG-INFO, .gitignore and,
  for the core, CHANGELOG.md), and each wheel only its own import package;
- every distribution has the same version (they are released together: docs/releasing.md) and a LICENSE.

Exits 1 with one line per problem.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

#: distribution -> (its import package inside the sdist, extra files its sdist may hold)
EXPECTED: dict[str, tuple[str, frozenset[str]]] = {
    "mediarouter": ("mediarouter", frozenset({"CHANGELOG.md"})),
    "mediarouter_openrouter": ("src/mediarouter_openrouter", frozenset()),
    "mediarouter_fal": ("src/mediarouter_fal", frozenset()),
    "mediarouter_gemini": ("src/mediarouter_gemini", frozenset()),
    "mediarouter_contracts": ("src/mediarouter_contracts", frozenset()),
}
ALWAYS = frozenset({"PKG-INFO", "pyproject.toml", "README.md", "LICENSE", ".gitignore"})


def sdist_problems(path: Path) -> tuple[str, str, list[str]]:
    """(distribution, version, problems) of one sdist."""
    stem = path.name.removesuffix(".tar.gz")
    dist, _, version = stem.rpartition("-")
    if dist not in EXPECTED:
        return dist, version, [f"{path.name}: not a known distribution (known: {', '.join(sorted(EXPECTED))})"]
    package, extra = EXPECTED[dist]
    problems = []
    with tarfile.open(path) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile() and "/" in m.name]
    for name in names:
        if name in ALWAYS or name in extra or name.startswith(package + "/"):
            continue
        problems.append(f"{path.name}: holds {name}, which is not part of {package}")
    for needed in ("LICENSE", "README.md", f"{package}/__init__.py"):
        if needed not in names:
            problems.append(f"{path.name}: lacks {needed}")
    return dist, version, problems


def wheel_problems(path: Path) -> list[str]:
    dist = path.name.split("-", 1)[0]
    package = EXPECTED.get(dist, (dist, frozenset()))[0].rpartition("/")[2]
    problems = []
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        meta_name = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        metadata = Parser().parsestr(wheel.read(meta_name).decode()) if meta_name else None
    for name in names:
        top = name.split("/", 1)[0]
        if top != package and not top.endswith(".dist-info"):
            problems.append(f"{path.name}: holds {name}, which is not part of {package}")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        problems.append(f"{path.name}: lacks its LICENSE")
    if metadata is None:
        problems.append(f"{path.name}: no METADATA")
    else:
        for field in ("Summary", "License-Expression", "Author", "Project-URL", "Classifier"):
            if not metadata.get_all(field):
                problems.append(f"{path.name}: metadata lacks {field}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build into this directory and leave the files there")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="mediarouter-dists-") as tmp:
        out = args.keep or Path(tmp)
        build = subprocess.run(
            ["uv", "build", "--all-packages", "--quiet", "-o", str(out)], cwd=root, capture_output=True, text=True
        )
        if build.returncode != 0:
            print(build.stderr.strip() or build.stdout.strip(), file=sys.stderr)
            print("check_dists: uv build failed", file=sys.stderr)
            return 1
        sdists = sorted(out.glob("*.tar.gz"))
        wheels = sorted(out.glob("*.whl"))
        problems: list[str] = []
        versions: dict[str, str] = {}
        for sdist in sdists:
            dist, version, found = sdist_problems(sdist)
            versions[dist] = version
            problems += found
        for wheel in wheels:
            problems += wheel_problems(wheel)
        missing = sorted(set(EXPECTED) - set(versions))
        if missing:
            problems.append(f"no sdist built for {', '.join(missing)}")
        if len(set(versions.values())) > 1:
            listed = ", ".join(f"{d} {v}" for d, v in sorted(versions.items()))
            problems.append(f"versions differ ({listed}); they are released together: see docs/releasing.md")
        twine = subprocess.run(
            [sys.executable, "-m", "twine", "check", "--strict", *map(str, sdists + wheels)],
            capture_output=True,
            text=True,
        )
        if twine.returncode != 0:
            problems.append("twine check --strict failed:\n" + (twine.stdout + twine.stderr).strip())
    for problem in problems:
        print(f"check_dists: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_dists: {len(sdists)} sdists and {len(wheels)} wheels OK ({', '.join(sorted(versions))})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
