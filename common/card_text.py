"""A recipe's card prose, kept beside its config as text: `recipes/<task>/<model>/card.md`.

    # <title>

    <summary: one paragraph>

    ## Intended use
    <one paragraph>

    ## Front end
    <one paragraph: what the input pipeline matches>

    ## Limitations
    - <one item; lines that follow it without a dash continue it>

    ## Data note          (optional)
    <one paragraph>

Lines of a paragraph are joined with single spaces, so the text may be wrapped freely. `read` gives the card
section's prose keys (`title`, `summary`, `intended_use`, `frontend_matches`, `limitations`, `data_note`), which the
recipe's config gains when it is read; the facts of the card (`task`, `license`, `datasets`) stay in config.yaml.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

from tinyzoo.common.errors import ConfigError

SECTIONS = {"Intended use": "intended_use", "Front end": "frontend_matches", "Limitations": "limitations",
            "Data note": "data_note"}
REQUIRED = ("title", "summary", "intended_use", "frontend_matches", "limitations")
PROSE_KEYS = (*REQUIRED, "data_note")


def _paragraph(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())


def _items(lines: list[str], where: str) -> list[str]:
    items: list[list[str]] = []
    for line in lines:
        if line.startswith("- "):
            items.append([line[2:]])
        elif line.strip():
            if not items:
                raise ConfigError(f"{where}: the Limitations section holds a list: start each item with '- '")
            items[-1].append(line)
    return [_paragraph(item) for item in items]


def read(path: str | Path) -> dict:
    """The prose keys of the card at `path`; one ConfigError naming the file and what is wrong."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: a recipe's card prose (title, summary, intended use, front end, "
                          f"limitations) is its card.md beside config.yaml") from None
    body = [line for line in lines]
    while body and not body[0].strip():
        body.pop(0)
    if not body or not body[0].startswith("# "):
        raise ConfigError(f"{path}: the first line must be the card's title, '# <title>'")
    prose: dict = {"title": body[0][2:].strip()}
    heading, part = "summary", []
    parts: dict[str, list[str]] = {}
    for line in body[1:]:
        if line.startswith("## "):
            parts[heading] = part
            name = line[3:].strip()
            if name not in SECTIONS:
                raise ConfigError(f"{path}: unknown section '## {name}' (the sections are: "
                                  f"{', '.join(SECTIONS)})")
            heading, part = SECTIONS[name], []
        elif line.startswith("# "):
            raise ConfigError(f"{path}: only the first line is a '# ' title; sections are '## <name>'")
        else:
            part.append(line)
    parts[heading] = part
    for key, text in parts.items():
        prose[key] = _items(text, str(path)) if key == "limitations" else _paragraph(text)
    missing = [key for key in REQUIRED if not prose.get(key)]
    if missing:
        raise ConfigError(f"{path}: missing or empty: {', '.join(missing)} (see common/card_text.py for the layout)")
    return prose


def write(prose: dict, path: str | Path, width: int = 110) -> Path:
    """`prose` (the keys `read` gives) as card.md text, wrapped at `width`."""
    def wrap(text: str, indent: str = "") -> str:   # at spaces only: read() joins lines with one space
        return textwrap.fill(text, width, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)
    out = [f"# {prose['title']}", "", wrap(prose["summary"])]
    for name, key in SECTIONS.items():
        if not prose.get(key):
            continue
        out += ["", f"## {name}", ""]
        if key == "limitations":
            out += [wrap(f"- {item}", "  ") for item in prose[key]]
        else:
            out.append(wrap(prose[key]))
    Path(path).write_text("\n".join(out) + "\n", encoding="utf-8")
    return Path(path)
