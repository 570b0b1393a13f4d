"""The English catalogue is complete: every message of locale/en has a checked translation (no
empty msgstr, no fuzzy flag, no Chinese left in it) and the compiled .mo says the same."""

import ast
import gettext
import re
from pathlib import Path

from django.conf import settings

PO = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")$")


def po_entries(text: str) -> list[dict]:
    """The catalogue's live entries: keyword -> string, with "flags" and "line" (obsolete "#~"
    entries left out)."""
    entries, entry, key = [], None, None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            entry = key = None
            continue
        if line.startswith("#,"):
            if entry is None:
                entry = {"flags": set(), "line": number}
                entries.append(entry)
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue  # comments, references and obsolete entries
        if line.startswith('"'):
            assert entry is not None and key is not None, f"line {number}: stray string"
            entry[key] += ast.literal_eval(line)
            continue
        match = KEYWORD.match(line)
        assert match, f"line {number}: not a .po line: {line}"
        key, value = match.groups()
        if entry is None or (key in ("msgid", "msgctxt") and ("msgid" in entry)):
            entry = {"flags": set(), "line": number}
            entries.append(entry)
        entry["line"] = entry.get("line", number)
        entry[key] = ast.literal_eval(value)
    return [e for e in entries if "msgid" in e]


def translations(entry: dict) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


def test_the_parser_reads_entries_flags_and_plurals():
    sample = (
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgid "共 %(n)s 条"\nmsgid_plural "共 %(n)s 条"\n'
        'msgstr[0] "%(n)s record"\nmsgstr[1] ""\n\n'
        'msgctxt "menu"\nmsgid ""\n"回访"\nmsgstr "Visits"\n\n#~ msgid "旧"\n#~ msgstr ""\n'
    )
    header, plural, with_context = po_entries(sample)
    assert header["msgstr"] == "Language: en\n"
    assert plural["flags"] == {"fuzzy", "python-format"}
    assert translations(plural) == ["%(n)s record", ""]
    assert (with_context["msgctxt"], with_context["msgid"]) == ("menu", "回访")


ENTRIES = [e for e in po_entries(PO.read_text(encoding="utf-8")) if e["msgid"]]


def test_the_catalogue_is_read():
    assert len(ENTRIES) > 500


def test_every_message_has_an_english_translation():
    empty = [f"line {e['line']}: {e['msgid']}" for e in ENTRIES if not all(translations(e))]
    assert not empty, "untranslated:\n" + "\n".join(empty)


def test_no_translation_is_fuzzy():
    fuzzy = [f"line {e['line']}: {e['msgid']}" for e in ENTRIES if "fuzzy" in e["flags"]]
    assert not fuzzy, "fuzzy (to check, then unflag):\n" + "\n".join(fuzzy)


def test_no_chinese_is_left_in_a_translation():
    chinese = [
        f"line {e['line']}: {value}"
        for e in ENTRIES
        for value in translations(e)
        if CJK.search(value)
    ]
    assert not chinese, "\n".join(chinese)


def test_the_compiled_catalogue_matches_the_po_file():
    with MO.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    stale = []
    for e in ENTRIES:
        msgid = f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]
        if "msgid_plural" in e:
            compiled = [catalog.get((msgid, n)) for n in range(len(translations(e)))]
        else:
            compiled = [catalog.get(msgid)]
        if compiled != translations(e):
            stale.append(f"line {e['line']}: {e['msgid']}")
    assert not stale, "run compilemessages:\n" + "\n".join(stale)
