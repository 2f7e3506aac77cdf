"""mkdocs hooks (mkdocs.yml `hooks:`): the README as the home page, and the provider pages that exist.

- `docs/index.md` is replaced by the repository's README.md, its `docs/…` links made relative to the
  site, so the front page of the repository and of the site are one text.
- The *Providers* section lists docs/openrouter.md and then every docs/providers/*.md present, so a
  provider page lands in the nav by being written (and a missing one never breaks `--strict`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPO = "https://github.com/mediarouter/mediarouter/blob/main/"


def on_config(config: Any) -> Any:
    docs = Path(config["docs_dir"])
    for item in config["nav"]:
        if isinstance(item, dict) and "Providers" in item:
            pages = [p for p in item["Providers"] if not _is_provider_page(p)]
            for page in sorted((docs / "providers").glob("*.md")):
                pages.append({_title(page): f"providers/{page.name}"})
            item["Providers"] = pages
    return config


def _is_provider_page(entry: Any) -> bool:
    values = entry.values() if isinstance(entry, dict) else [entry]
    return any(isinstance(v, str) and v.startswith("providers/") for v in values)


def _title(page: Path) -> str:
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].split(":", 1)[0].strip()  # "fal.ai queue API: the wire reference …" -> "fal.ai queue API"
    return page.stem


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != "index.md":
        return markdown
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    def link(match: re.Match[str]) -> str:
        target = match.group(1)
        if target.startswith("docs/"):
            return f"]({target.removeprefix('docs/')})"
        if re.match(r"[a-z]+:|#", target):
            return match.group(0)
        return f"]({REPO}{target})"  # a file outside docs/: link to it in the repository

    return re.sub(r"\]\(([^)\s]+)\)", link, readme)
