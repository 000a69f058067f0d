"""The English catalog (translations/en): complete, faithful to its placeholders, compiled, and used.

The msgids are the Vietnamese UI texts themselves (``_("Đăng nhập")``); English is
the catalog.  ``make translations`` re-extracts, merges and compiles; a new string
in the code fails ``test_catalog_covers_every_string_in_the_code`` until it is
translated here.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import time_machine
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from tests.conftest import local, login

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo"
#: The keywords of the Makefile's `translations` target (pybabel extract -k _l -k lazy_gettext -k ngettext:1,2).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}

#: %-format placeholders (%(name)s, %d, %%) and str.format fields ({0}, {day}).
PERCENT = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
BRACE = re.compile(r"\{[^{}]*\}")
TAG = re.compile(r"</?[A-Za-z][^>]*>")
#: Inside the grace period of TGG-2019 (deadline Friday 25/10/2019, grace ends 24:00 Friday 01/11/2019).
IN_GRACE = local(2019, 10, 29, 10, 0)


def _catalog():
    with PO.open("rb") as fh:
        return read_po(fh, locale="en")


def _messages(catalog):
    return [m for m in catalog if m.id]


def _ids(message) -> list[str]:
    return list(message.id) if message.pluralizable else [message.id]


def _strings(message) -> list[str]:
    return list(message.string) if message.pluralizable else [message.string]


def _tokens(text: str) -> Counter:
    return Counter(PERCENT.findall(text)) + Counter(BRACE.findall(text)) + Counter(TAG.findall(text))


# -- the catalog itself ----------------------------------------------------------

def test_every_message_has_a_non_empty_english_translation():
    catalog = _catalog()
    messages = _messages(catalog)
    assert len(messages) > 400, "the catalog lost its messages"
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"
    untranslated = [m.id for m in messages if not all(s.strip() for s in _strings(m))]
    assert not untranslated, f"{len(untranslated)} untranslated: {untranslated[:10]}"
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not fuzzy, f"fuzzy entries: {fuzzy[:10]}"


def test_placeholders_and_markup_are_kept_exactly():
    wrong = []
    for m in _messages(_catalog()):
        ids, strings = _ids(m), _strings(m)
        # Singular form 0 follows msgid, every other form follows msgid_plural.
        for i, string in enumerate(strings):
            source = ids[0] if i == 0 else ids[-1]
            if _tokens(source) != _tokens(string):
                wrong.append((source, string))
    assert not wrong, "placeholders or tags differ:\n" + "\n".join(f"  {a!r} -> {b!r}" for a, b in wrong)


def test_plural_entries_have_every_plural_form():
    catalog = _catalog()
    assert catalog.num_plurals == 2
    for m in _messages(catalog):
        if m.pluralizable:
            assert len(m.string) == catalog.num_plurals and all(m.string), m.id


def test_catalog_covers_every_string_in_the_code():
    """What `make translations` would extract today is all in the catalog (run it, then translate the new ones)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    extracted = {msgid if isinstance(msgid, str) else msgid[0]
                 for _file, _line, msgid, _comments, _context in
                 extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)}
    extracted.discard("")
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in _messages(_catalog())}
    missing = sorted(extracted - known)
    assert not missing, (f"{len(missing)} string(s) not in translations/en — run `make translations` and translate "
                         f"them: {missing[:10]}")


def test_compiled_catalog_is_up_to_date_with_the_po(tmp_path):
    """messages.mo (what the app loads) says what messages.po says: compared by content, not bytes."""
    assert MO.is_file(), "run `make translations` (pybabel compile -d translations)"
    fresh = tmp_path / "messages.mo"
    with fresh.open("wb") as fh:
        write_mo(fh, _catalog())
    with fresh.open("rb") as fh:
        expected = read_mo(fh)
    with MO.open("rb") as fh:
        committed = read_mo(fh)

    def content(catalog):
        return {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)):
                m.string if isinstance(m.string, str) else tuple(m.string) for m in catalog if m.id}

    assert content(committed) == content(expected), "messages.mo is stale: run `make translations`"
    assert committed.plural_forms == expected.plural_forms


def test_the_app_loads_the_catalog_from_translations(app):
    from web.common import babel

    assert str(TRANSLATIONS) in app.extensions["babel"].translation_directories
    with app.test_request_context("/?lang=en"):
        assert "en" in {str(locale) for locale in babel.list_translations()}


def test_the_requests_catalogue_follows_the_locale_within_a_request(app):
    """The catalogue kept for a request (web.common.translations) honours force_locale inside it, and the
    request's own language after; outside an app context the text comes back untranslated."""
    from flask_babel import force_locale

    from web.common import gettext, lang

    with app.test_request_context("/?lang=vi"):
        assert (lang(), gettext("Khối")) == ("vi", "Khối")
        with force_locale("en"):
            assert (lang(), gettext("Khối")) == ("en", "Group")
        assert (lang(), gettext("Khối")) == ("vi", "Khối")
    assert gettext("Khối") == "Khối"


# -- the pages -------------------------------------------------------------------

class _Text(HTMLParser):
    """Text nodes and human-readable attribute values of a page, whitespace-collapsed."""

    ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "data-done"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if value and (name in self.ATTRIBUTES or (name == "value" and dict(attrs).get("type") == "submit")):
                self._add(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self._add(data)

    def _add(self, text):
        text = " ".join(text.split())
        if text:
            self.chunks.append(text)


def page_text(html: str, data: list[str] = ()) -> str:
    """The page's visible text, one chunk a line, with the data's own texts (Vietnamese names) taken out."""
    parser = _Text()
    parser.feed(html)
    text = "\n".join(parser.chunks)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, "\u2039data\u203a")
    return text


def _word_pattern(fragment: str) -> re.Pattern:
    return re.compile(r"(?<!\w)" + re.escape(fragment) + r"(?!\w)")


def untranslated_in(text: str) -> list[str]:
    """Catalog msgids whose English differs but that still show verbatim in ``text``.

    A msgid with placeholders is looked for by its literal parts of two words or more.
    """
    found = []
    for m in _messages(_catalog()):
        for source, string in zip(_ids(m), _strings(m)):
            if not string or string == source:
                continue
            if not PERCENT.search(source) and not BRACE.search(source):
                if _word_pattern(source).search(text):
                    found.append(source)
                continue
            for part in re.split(f"{PERCENT.pattern}|{BRACE.pattern}", source):
                part = part.strip(" .,;:()“”…—–-")
                if len(part.split()) >= 2 and _word_pattern(part).search(text):
                    found.append(source)
                    break
    return found


def get(client, url: str):
    """GET ``url``; each request has an application context (a ``g``) of its own, so Flask-Babel chooses
    the locale afresh from ``?lang=``, the session or the user, as in production."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _data_texts() -> list[str]:
    """Vietnamese that is data, not UI: names of organizers, campaigns, units."""
    from sqlalchemy import select

    from workflow.db import db
    from workflow.models import Campaign, Organizer, Unit

    texts = list(db.session.scalars(select(Unit.name)))
    texts += db.session.scalars(select(Campaign.title))
    texts += db.session.scalars(select(Organizer.name))
    return [t for t in texts if t]


def test_login_page_in_english_and_in_vietnamese(client):
    html = get(client, "/login?lang=en")
    text = page_text(html)
    assert 'lang="en"' in html
    assert "Sign in" in text and "Email" in text and "Password" in text and "Forgot your password?" in text
    assert "Đăng nhập" not in text
    assert untranslated_in(text) == []

    # A failed sign-in: the flashed message too.
    failed = client.post("/login", data={"email": "nobody@example.gov.vn", "password": "sai-mat-khau"})
    assert "Incorrect email or password." in page_text(failed.get_data(as_text=True))

    html = get(client, "/login?lang=vi")
    text = page_text(html)
    assert 'lang="vi"' in html
    assert "Đăng nhập" in text and "Mật khẩu" in text and "Quên mật khẩu?" in text
    assert "Giờ Việt Nam (UTC+7)" in text
    assert "Sign in" not in text and "Password" not in text


def test_dashboard_in_english_shows_english_only(client, two_provinces):
    with time_machine.travel(IN_GRACE, tick=False):
        login(client, "admin@tgg.example")
        html = get(client, "/campaigns/TGG-2019?lang=en")
    text = page_text(html, _data_texts())
    assert 'lang="en"' in html
    for english in ("Submission status", "Submission deadline", "Grace period", "Timeline", "Units", "Actions",
                    "Reinstate an excluded unit", "If the grace period ended now, the following units would be "
                    "excluded", "Recent activity", "Sign out", "Evaluation campaigns"):
        assert english in text, english
    assert "Tình hình nộp hồ sơ" not in text and "Đăng xuất" not in text
    assert untranslated_in(text) == []


def test_dashboard_in_vietnamese_stays_vietnamese(client, two_provinces):
    with time_machine.travel(IN_GRACE, tick=False):
        login(client, "admin@tgg.example")
        html = get(client, "/campaigns/TGG-2019?lang=vi")
    text = page_text(html, _data_texts())
    assert 'lang="vi"' in html
    for vietnamese in ("Tình hình nộp hồ sơ", "Hạn nộp hồ sơ", "Thời gian gia hạn", "Các đơn vị", "Thao tác",
                       "Khôi phục đơn vị bị loại", "Nhật ký gần đây", "Đăng xuất", "Đợt đánh giá"):
        assert vietnamese in text, vietnamese
    for english in ("Submission status", "Reinstate an excluded unit", "Recent activity", "Sign out"):
        assert english not in text, english
    # The check the English page passes does find the Vietnamese UI when it is there.
    assert len(untranslated_in(text)) > 30


def test_the_language_chosen_sticks_for_the_session(client, two_provinces):
    login(client, "admin@tgg.example")
    get(client, "/campaigns?lang=en")
    assert "Evaluation campaigns" in page_text(get(client, "/campaigns"))
    get(client, "/campaigns?lang=vi")
    assert "Đợt đánh giá" in page_text(get(client, "/campaigns"))


@pytest.mark.parametrize("source, english", [
    ("Đăng nhập", "Sign in"),
    ("Hạn nộp hồ sơ", "Submission deadline"),
    ("Thời gian gia hạn", "Grace period"),
    ("Khôi phục", "Reinstate"),
    ("Điểm thẩm định", "Verified score"),
    ("Hội đồng thẩm định và đơn vị cấp xã", "Appraisal council and commune-level units"),
])
def test_key_terms_follow_the_glossary(source, english):
    assert _catalog()[source].string == english
