"""Regenerate apps' zh_Hans catalogues from their translation tables (maintainer tool, needs GNU gettext).

Usage, from the repository root:

    .venv/bin/python scripts/catalogue.py assistant payments   # regenerate these apps
    .venv/bin/python scripts/catalogue.py --all                # every app with a locale/zh.py
    .venv/bin/python scripts/catalogue.py --all --check        # write nothing; exit 1 if a .po would change

Each app keeps only data in `src/gridcare/<app>/locale/zh.py`:

- `ZH`: the table. A key is an English msgid, or `(context, msgid)` for a string marked with
  pgettext / `{% translate "…" context "…" %}`; the value is the zh-Hans translation.
- `CONFIG`: `comment` (the .po's first lines), `extract` (False: write the table as it is; True:
  extract the msgids from `templates` (globs, templatized first) and `sources` (globs of .py files)
  with xgettext and write exactly those; a msgid without a translation fails loudly) and
  `context` (applied to strings found without one, for apps whose `_` is a pgettext, e.g. service).

The script writes `zh_Hans/LC_MESSAGES/django.po` and compiles `django.mo` with msgfmt. It lives
outside the package on purpose: it is not needed at run time.
"""

from __future__ import annotations

import argparse
import glob
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "src" / "gridcare"

HEADER = '''msgid ""
msgstr ""
"Project-Id-Version: gridcare\\n"
"Language: zh_Hans\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"Plural-Forms: nplurals=1; plural=0;\\n"
'''

KEYWORDS = ["gettext", "gettext_lazy", "gettext_noop", "_", "_lazy", "pgettext:1c,2", "pgettext_lazy:1c,2"]

Key = tuple[str | None, str]


def esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


def load(app: str) -> tuple[dict, dict[Key, str]]:
    data = runpy.run_path(str(APPS / app / "locale" / "zh.py"))
    default = data["CONFIG"].get("context")
    table = {(k if isinstance(k, tuple) else (default, k)): v for k, v in data["ZH"].items()}
    return data["CONFIG"], table


def extract(config: dict) -> set[Key]:
    """The (context, msgid) pairs the app's templates and sources mark for translation."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")
    import django
    from django.utils.translation.template import templatize

    django.setup()
    tmp = Path(tempfile.mkdtemp())
    files = []
    for pattern in config.get("templates", []):
        for t in sorted(glob.glob(str(ROOT / pattern), recursive=True)):
            rel = Path(t).relative_to(ROOT)
            out = tmp / ("__".join(rel.parts) + ".py")  # service/home.html and visits/home.html differ
            out.write_text(templatize(Path(t).read_text(encoding="utf-8"), origin=str(rel)), encoding="utf-8")
            files.append(str(out))
    for pattern in config.get("sources", []):
        files += sorted(f for f in glob.glob(str(ROOT / pattern), recursive=True)
                        if "/locale/" not in f and "/migrations/" not in f)
    pot = tmp / "messages.pot"
    subprocess.run(["xgettext", "--language=Python", "--from-code=UTF-8", "-k",
                    *[f"--keyword={k}" for k in KEYWORDS], "--no-location", "-o", str(pot), *files], check=True)
    default = config.get("context")
    found = set()
    for entry in polib.pofile(str(pot), encoding="utf-8"):
        if entry.msgid_plural:
            sys.exit(f"plural forms are not supported by this tool: {entry.msgid!r}")
        found.add((entry.msgctxt or default, entry.msgid))
    return found


def render(config: dict, table: dict[Key, str], keys: set[Key]) -> str:
    comment = "".join(f"# {line}\n" if line else "#\n" for line in config["comment"].splitlines())
    body = []
    for ctx, msgid in sorted(keys, key=lambda k: (k[1], k[0] or "")):
        lines = [f'msgctxt "{esc(ctx)}"'] if ctx is not None else []
        lines += [f'msgid "{esc(msgid)}"', f'msgstr "{esc(table[(ctx, msgid)])}"']
        body.append("\n" + "\n".join(lines) + "\n")
    return comment + HEADER + "".join(body)


def build(app: str, *, check: bool) -> bool:
    """Returns True when the app's .po is (or would be) unchanged."""
    config, table = load(app)
    keys = extract(config) if config.get("extract", True) else set(table)
    missing = sorted(k for k in keys if k not in table)
    if missing:
        sys.exit(f"{app}: {len(missing)} missing translations:\n"
                 + "\n".join(f"  {c + '|' if c else ''}{m}" for c, m in missing[:40]))
    unused = sorted((k for k in table if k not in keys), key=str)
    for ctx, msgid in unused:
        print(f"{app}: not used any more (left out): {ctx + '|' if ctx else ''}{msgid}", file=sys.stderr)
    po = APPS / app / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    text = render(config, table, keys)
    same = po.exists() and po.read_text(encoding="utf-8") == text
    if check:
        print(f"{app}: {'up to date' if same else 'WOULD CHANGE'} ({len(keys)} messages)")
        return same
    po.write_text(text, encoding="utf-8")
    subprocess.run(["msgfmt", "--check-format", "-o", str(po.with_suffix(".mo")), str(po)], check=True)
    print(f"{app}: wrote {len(keys)} messages")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("apps", nargs="*")
    parser.add_argument("--all", action="store_true", help="every app with a locale/zh.py")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a .po would change")
    args = parser.parse_args()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT / "src"))
    apps = sorted(p.parent.parent.name for p in APPS.glob("*/locale/zh.py")) if args.all else args.apps
    if not apps:
        parser.error("name at least one app, or --all")
    results = [build(app, check=args.check) for app in apps]
    if args.check and not all(results):
        sys.exit(1)


if __name__ == "__main__":
    main()
