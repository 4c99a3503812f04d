"""Keep the translation catalogs in step with the code: ``python -m oms_console.catalogs update|check``.

``update`` extracts every message of the Python code and the templates into ``locale/messages.pot`` and merges
it into ``locale/<ru|en>/LC_MESSAGES/messages.po`` (new messages arrive empty, gone ones are dropped, nothing is
marked fuzzy); then translate the empty Russian ones. ``check`` fails on a message the code uses that a
catalog lacks, and on an empty or fuzzy Russian translation. The app reads the ``.po`` files at start.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

PACKAGE = Path(__file__).parent
LOCALE_DIR = PACKAGE / "locale"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_": None,
    "N_": None,
    "ngettext": (1, 2),
    "ngettext_": (1, 2),
    "pgettext": ((1, "c"), 2),
}
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}


def extract() -> Catalog:
    template = Catalog(project="oms-console", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE), METHODS, options_map=OPTIONS, keywords=KEYWORDS, strip_comment_tags=True
    ):
        if "catalogs.py" in filename:
            continue
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / "messages.po"


def read(code: str) -> Catalog:
    path = po_path(code)
    if not path.exists():
        return Catalog(locale=code, project="oms-console", charset="utf-8")
    with path.open("rb") as fh:
        return read_po(fh, locale=code)


def update() -> None:
    template = extract()
    with (LOCALE_DIR / "messages.pot").open("wb") as fh:
        write_po(fh, template, omit_header=True, no_location=True, sort_output=True)
    for code in ("ru", "en"):
        catalog = read(code)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        path = po_path(code)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, no_location=True, sort_output=True, ignore_obsolete=True)


def _key(message: object) -> str:
    return message[0] if isinstance(message, list | tuple) else str(message)


def problems() -> list[str]:
    """What is wrong with the catalogs, one line each (empty when all is well)."""
    found: list[str] = []
    template = extract()
    for code in ("ru", "en"):
        catalog = read(code)
        for message in template:
            if message.id and catalog.get(message.id, message.context) is None:
                found.append(f"{code}: missing {_key(message.id)!r} (run: python -m oms_console.catalogs update)")
    ru = read("ru")
    for message in ru:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, list | tuple) else [message.string]
        if message.fuzzy:
            found.append(f"ru: fuzzy {_key(message.id)!r}")
        elif not all(strings):
            found.append(f"ru: untranslated {_key(message.id)!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oms_console.catalogs")
    parser.add_argument("command", choices=["update", "check"])
    args = parser.parse_args(argv)
    if args.command == "update":
        update()
    found = problems()
    for line in found:
        print(line)
    return 1 if (found and args.command == "check") else 0


if __name__ == "__main__":
    sys.exit(main())
