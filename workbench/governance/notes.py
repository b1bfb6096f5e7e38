"""The hand-written sections of a model card: ``[governance] card_notes`` (a Markdown file).

The file is split at its level-2 headings (``## Intended use``); headings inside fenced code
blocks do not count. Workbench reads the file and never writes it. Merge rule (``merge``):

- a note whose heading is one of ``WRITTEN`` (intended use, limitations, owners, risks, in
  any letter case) fills that section of the card;
- a note whose heading names a generated section keeps the generated text and follows it
  under "Notes" (generated numbers are never replaced by prose, and prose is never lost);
- any other note is its own section, after the written ones, in the file's order;
- text before the first heading opens the card, under the title.

A written section with no note says so and names the file to add it to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ConfigError

WRITTEN = ("Intended use", "Limitations", "Owners", "Risks")


@dataclass(frozen=True)
class Notes:
    source: str | None  # the file as configured, None when no file is configured
    preamble: str
    sections: tuple[tuple[str, str], ...]  # (heading, body) in the file's order
    missing: bool = False  # configured, but the file does not exist

    def get(self, heading: str) -> str | None:
        key = heading.strip().lower()
        return next((b for h, b in self.sections if h.strip().lower() == key), None)


def read_notes(root: Path, configured: str) -> Notes:
    """The notes file ``configured`` (relative to the project ``root``); empty when unset."""
    if not configured:
        return Notes(None, "", ())
    path = (root / configured).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ConfigError(
            f"[governance] card_notes = {configured!r} is outside the project",
            "name a Markdown file inside the project folder",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Notes(configured, "", (), missing=True)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"cannot read [governance] card_notes {configured}: {e}",
            "make it a readable UTF-8 Markdown file",
        ) from e
    preamble, sections = split_sections(text)
    return Notes(configured, preamble, sections)


def split_sections(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(text before the first ``## `` heading, ((heading, body), ...))."""
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append(line)
        elif not line.startswith("# "):  # the file's own title is not card text
            preamble.append(line)
    return "\n".join(preamble).strip(), tuple((h, "\n".join(b).strip()) for h, b in sections)


def merge(
    generated: list[tuple[str, str]], notes: Notes, written_after: str
) -> list[tuple[str, str]]:
    """The card's sections: ``generated`` with the notes merged by heading (module docstring);
    the written sections go right after the generated section named ``written_after``."""
    used = {h.lower() for h, _ in generated}  # a note named so is merged there, not listed
    out: list[tuple[str, str]] = []
    for heading, body in generated:
        note = notes.get(heading)
        if note:
            body = f"{body}\n\n**Notes** (from {notes.source}):\n\n{note}"
        out.append((heading, body))
        if heading == written_after:
            out.extend(_written(notes, used))
    return out


def _written(notes: Notes, used: set[str]) -> list[tuple[str, str]]:
    out = []
    for heading in WRITTEN:
        note = notes.get(heading)
        used.add(heading.lower())
        out.append((heading, note if note else _placeholder(notes, heading)))
    for heading, body in notes.sections:
        if heading.lower() not in used:
            used.add(heading.lower())
            out.append((heading, body))
    return out


def _placeholder(notes: Notes, heading: str) -> str:
    if notes.source is None:
        return (
            f"_Not written: set `[governance] card_notes` to a Markdown file with a"
            f" `## {heading}` section._"
        )
    if notes.missing:
        return f"_Not written: {notes.source} does not exist; add a `## {heading}` section to it._"
    return f"_Not written: add a `## {heading}` section to {notes.source}._"
