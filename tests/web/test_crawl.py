"""Crawl smoke test: every demo role walks the console (or portal) the way a person would, so a 500, a
traceback, a link the page shows but the role may not open, a page without a title or an English UI
word left on a zh-Hans page is caught before a user sees it.

The demo dataset is built once for the module inside one transaction that is rolled back at the end
(other test modules never see it). To stay fast it is a subset of `gridcare demo-data`: 60 customers,
3 billing months instead of 13 and 40 work orders instead of 300; every other step runs as shipped.

Each role fetches its landing page (depth 0), the navigation entries (depth 1) and every same-site
link, `hx-get` partial and redirect target on those pages (depth 2). Per role at most
`PAGES_PER_ROLE` pages and at most `PER_VIEW` URLs of one view (the 30th bill page finds nothing the
2nd did not). Logout, language switch and POST-only forms are skipped; downloads (PDF, CSV, Excel)
are fetched and must answer 200 with their content type.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import Resolver404, resolve

ROLES = ["admin", "clerk", "auditor", "approver", "cashier", "agent", "supervisor", "manager", "customer"]
PAGES_PER_ROLE = 150
PER_VIEW = 2
MAX_DEPTH = 2
SKIP_PREFIXES = ("/logout/", "/i18n/", "/static/", "/api/", "/admin/")
DOWNLOAD_TYPES = {
    ".pdf": "application/pdf",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Frequent UI words that must not be left in English on a zh-Hans page. Acronyms (TOU, KPI, PDF, SLA),
# codes (gz-residential), units (kWh, kVA) and the brand never match: only these whole words do.
UI_WORDS = frozenset("""
    save cancel search status amount customer customers bill bills period submit approve reject open close
    closed next previous details detail actions action total date edit delete create new add back view
    name phone address account accounts meter meters reading reads payment payments balance due paid
    unpaid issued draft filter reset apply confirm yes no none all home login logout password username
    required invalid error warning page of show hide more less loading print download export import upload
    overdue note notes reason comment comments title description category priority assigned assignee
    created updated type source channel result results summary report reports queue ticket tickets
    request requests reply send message messages history timeline list run runs start stop resume
    approved rejected pending escalate escalated resolve resolved refund adjustment invoice receipt
    cash method reference today yesterday week month year from to until since and or the with without
    for by on in at is are this that no not found empty nothing there any select choose please
    first last score risk level tag tags rule rules value values unit units org station county city
    province visit visits outcome plan planned done task tasks owner role roles user users
    login sign welcome dashboard trend alert alerts target actual knowledge article articles question
    answer draft published review reviewed peak flat valley sharp reactive demand register usage
    finished completed failed running queued stage skipped accepted quarantined unchanged estimated
    inspection inspected agent score passed average file files statement statements day days exception
    exceptions
""".split())
# English still stored by services and shown as recorded (each is a known gap, owner named): a new
# English text anywhere else fails. metering.validation / billing.pipeline / rating.kernel write
# read-check and skip details in English (tests assert them); SLA limits cite their sources as written.
KNOWN_ENGLISH = [re.compile(p) for p in (
    r"^(usage [\d.,]+ units in|no meter |reading [\d.,]+ below previous|no usage since|installed on|removed on"
    r"|meter has no \w+ register|read date after today|period closed before|same meter, register and date"
    r"|differs from existing read)",
    r"^meter \S+: no read of \w+ on ",
    r"^[\w.]+: tariff \S+ has no version in force on part of ",
    r"^(no tariff in force|no meter installed in the period)",
    r"\[[ABI](/[AB])?\]",  # an SLA limit's source citation graded [A]/[B]/[I], quoted as written
)]
# Words that are fine on a zh-Hans page even though they look English (acronyms are filtered anyway).
ALLOWED_WORDS = frozenset({"gridcare"})
CJK = re.compile(r"[\u3400-\u9fff]")
TOKEN = re.compile(r"[A-Za-z0-9_.'’-]+")
# what a leaked Python error looks like (the word "Exception" alone is a fine English UI word)
BAD_TEXT = re.compile(r"Traceback|\b[A-Z]\w*(Error|Exception)(: |\(|\b at 0x)|DoesNotExist|NoReverseMatch"
                      r"|TemplateSyntaxError|VariableDoesNotExist|\bNone\b(?=</)")


@dataclass
class Page:
    """What a page shows: links (a href, hx-get), its title, visible text nodes."""

    links: list[tuple[str, bool]] = field(default_factory=list)  # (href, has download attribute)
    title: str = ""
    texts: list[str] = field(default_factory=list)
    has_html: bool = False


class _Parser(HTMLParser):
    SKIP = {"script", "style", "code", "pre", "textarea", "svg"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._skip = 0
        self._in_title = False
        # an element marked lang="en" (a recorded English summary) or translate="no" (a username, a
        # code): deliberate, skipped on zh-Hans pages
        self._lang_tag: str | None = None
        self._lang_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._lang_tag is None and tag != "html" and (
                (a.get("lang") or "").startswith("en") or a.get("translate") == "no"):
            self._lang_tag, self._lang_depth = tag, 0
        if tag == self._lang_tag:
            self._lang_depth += 1
        if tag == "html":
            self.page.has_html = True
        if tag == "a" and a.get("href"):
            self.page.links.append((a["href"], "download" in a))
        for attr in ("hx-get",):
            if a.get(attr):
                self.page.links.append((a[attr], False))
        for attr in ("placeholder", "title", "aria-label", "alt"):
            if a.get(attr) and tag != "meta" and self._lang_tag is None:
                self.page.texts.append(a[attr])
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.page.texts.append(a["value"])
        if tag == "title":
            self._in_title = True
        if tag in self.SKIP:
            self._skip += 1

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag == self._lang_tag:
            self._lang_depth -= 1
            if not self._lang_depth:
                self._lang_tag = None

    def handle_data(self, data):
        if self._in_title:
            self.page.title += data
            return
        if not self._skip and self._lang_tag is None and data.strip():
            self.page.texts.append(data.strip())


def parse(html: str) -> Page:
    p = _Parser()
    p.feed(html)
    return p.page


def english_ui_words(text: str) -> list[str]:
    """UI words left in English in one visible text node of a zh-Hans page.

    English beside a Chinese term ("分时电价（TOU）", "电量 kWh") is deliberate, so only words outside
    brackets are counted, acronyms and mixed-case codes never match, and a node that is mostly Chinese
    with one bracketed gloss passes."""
    outside = re.sub(r"[（(][^）)]*[）)]", " ", text)
    words = []
    for token in TOKEN.findall(outside):
        token = token.strip(".'’-")
        # codes and numbers (bill-004, B202610-…, hubei-agency-2part-10kv, 3.5) are data, not words
        if not token or re.search(r"\d", token) or "-" in token:
            continue
        # a snake_case or dotted name is an internal code shown raw (org_unit, unknown_meter)
        for part in re.split(r"[_.]", token):
            if part and not part.isupper() and part.lower() not in ALLOWED_WORDS and part.lower() in UI_WORDS:
                words.append(part)
    return words


@dataclass
class Problem:
    role: str
    url: str
    what: str
    source: str = ""

    def __str__(self):
        return f"[{self.role}] {self.url} ← {self.source or '-'}: {self.what}"


def _landing(role: str) -> str:
    return "/portal/" if role == "customer" else "/"


def crawl(client: Client, role: str, *, lang: str) -> tuple[list[Problem], dict[str, int]]:
    """Breadth-first walk from the landing page; returns problems and a count of pages by view."""
    from gridcare.web.navigation import navigation

    problems: list[Problem] = []
    seen: set[str] = set()
    per_view: dict[str, int] = {}
    queue: deque[tuple[str, int, str, bool]] = deque([(_landing(role), 0, "", False)])
    user = client.session  # noqa: F841 (keeps the session cookie alive for the client)
    fetched = 0
    nav_added = False
    while queue and fetched < PAGES_PER_ROLE:
        url, depth, source, download = queue.popleft()
        path = urlsplit(url).path
        if url in seen:
            continue
        seen.add(url)
        try:
            match = resolve(path)
        except Resolver404:
            problems.append(Problem(role, url, "link to a page that does not exist", source))
            continue
        view = match.view_name
        if per_view.get(view, 0) >= PER_VIEW:
            continue
        per_view[view] = per_view.get(view, 0) + 1
        fetched += 1
        response = client.get(url)
        status = response.status_code
        ctype = response.get("Content-Type", "")
        if status >= 500:
            problems.append(Problem(role, url, f"status {status}", source))
            continue
        if status in (301, 302, 303):
            target = response["Location"]
            if "/login/" in target and depth > 0:
                problems.append(Problem(role, url, f"shown link redirects to login ({target})", source))
            elif urlsplit(target).netloc in ("", "testserver"):
                queue.appendleft((urljoin(url, target), depth, url, download))
            continue
        if status != 200:
            problems.append(Problem(role, url, f"shown link answers {status}", source))
            continue
        ext = next((e for e in DOWNLOAD_TYPES if path.endswith(e)), None)
        if "text/html" not in ctype:
            if ext and not ctype.startswith(DOWNLOAD_TYPES[ext]):
                problems.append(Problem(role, url, f"{ext} download served as {ctype}", source))
            elif not ext and not download and not ctype.startswith(("application/pdf", "text/csv", "application/vnd",
                                                                     "application/json", "image/")):
                problems.append(Problem(role, url, f"link serves {ctype}", source))
            continue
        if ext:
            problems.append(Problem(role, url, f"{ext} link serves an HTML page", source))
        html = response.content.decode()
        leaked = BAD_TEXT.search(html)
        if leaked:
            problems.append(Problem(role, url, f"page shows {leaked.group(0)!r}", source))
        page = parse(html)
        if page.has_html:
            title = " ".join(page.title.split())
            if not title or title.lower() in ("gridcare", "gridcare · gridcare"):
                problems.append(Problem(role, url, f"page has no specific <title> ({title!r})", source))
            elif lang == "zh-hans" and not CJK.search(title):
                problems.append(Problem(role, url, f"<title> not translated ({title!r})", source))
        for text in page.texts:
            if lang == "zh-hans" and english_ui_words(text) and not any(k.search(text) for k in KNOWN_ENGLISH):
                problems.append(Problem(role, url, f"English on a zh-Hans page: {text[:80]!r}", source))
        if lang == "en":
            configured = _config_texts()
            for text in _chrome_texts(html):
                if text.rstrip(" *") in configured:
                    continue
                if CJK.search(text) and not re.search(r"[A-Za-z]{3}", text):
                    problems.append(Problem(role, url, f"Chinese label on an English page: {text[:80]!r}", source))
        if depth >= MAX_DEPTH:
            continue
        links = [(href, dl) for href, dl in page.links]
        if depth == 0 and not nav_added:
            nav_added = True
            request = response.wsgi_request
            links = [(item["url"], False) for item in navigation(request)["nav_items"]] + links
        for href, dl in links:
            target = urljoin(url, href.strip())
            parts = urlsplit(target)
            if parts.scheme not in ("http", "https", "") or parts.netloc not in ("", "testserver"):
                continue
            if href.startswith(("#", "mailto:", "tel:", "javascript:")):
                continue
            if parts.path.startswith(SKIP_PREFIXES):
                continue
            clean = parts.path + (f"?{parts.query}" if parts.query else "")
            if clean not in seen:
                queue.append((clean, depth + 1, url, dl))
    return problems, per_view


class _Chrome(HTMLParser):
    """Text of the elements that are UI chrome, never data: form labels, buttons, navigation, legends,
    placeholders, the page title (headings and table heads often carry names: a customer, a station)."""

    TAGS = {"label", "button", "legend", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.out: list[str] = []
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.TAGS or "nav-link" in (a.get("class") or ""):
            self.stack.append(tag)
            self._buf.append("")
        if a.get("placeholder"):
            self.out.append(a["placeholder"])

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
            text = self._buf.pop().strip()
            if text:
                self.out.append(" ".join(text.split()))

    def handle_data(self, data):
        if self._buf:
            self._buf[-1] += data


@cache
def _config_texts() -> frozenset[str]:
    """Chinese labels that come from the policy YAML (visit topics, reply templates, return-visit
    questions): shown as the company configured them, in both languages, so not a missing translation."""
    import yaml

    import gridcare

    out: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str) and CJK.search(node):
            out.add(" ".join(node.split()))

    root = Path(gridcare.__file__).parent
    for path in [*root.glob("*/policy/*.yaml"), *root.glob("*/data/*.yaml")]:
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return frozenset(out)


def _chrome_texts(html: str) -> list[str]:
    p = _Chrome()
    p.feed(html)
    return p.out


# --- the demo site ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_site(django_db_setup, django_db_blocker):
    """The demo subset, loaded once and rolled back after the module."""
    from django.utils import timezone

    import gridcare.billing.demo as billing_demo
    from gridcare.access.models import User
    from gridcare.cli.demo import DEMO_STEPS
    from gridcare.customers.demo import DEFAULT_SEED, demo_load

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            months, billing_demo.MONTHS = billing_demo.MONTHS, 3
            as_of = timezone.now()
            demo_load(customers=60, seed=DEFAULT_SEED, as_of=as_of)
            import importlib

            for step in DEMO_STEPS:
                module_name, _, func_name = step.partition(":")
                func = getattr(importlib.import_module(module_name), func_name)
                kwargs = {"orders": 40} if module_name == "gridcare.service.demo" else {}
                func(seed=DEFAULT_SEED, as_of=as_of, **kwargs)
            billing_demo.MONTHS = months
            if connection.vendor == "postgresql":
                # A loaded database has statistics (autovacuum); data inside this never-committed
                # transaction has none, and the planner's empty-table guesses turn the console's
                # org-subtree counts into nested loops of minutes.
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            users = {u.username: u for u in User.objects.filter(username__in=ROLES)}
            yield users
        finally:
            billing_demo.MONTHS = months
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _client(user, lang: str) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = lang
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_crawl_zh_hans(demo_site, role):
    user = demo_site[role]
    problems, per_view = crawl(_client(user, "zh-hans"), role, lang="zh-hans")
    pages = sum(per_view.values())
    print(f"crawl {role}: {pages} pages, {len(per_view)} views")  # shown with -s
    assert pages >= 5, per_view
    assert not problems, f"{len(problems)} problems over {pages} pages:\n" + "\n".join(map(str, problems))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin", "customer"])
def test_crawl_english(demo_site, role):
    user = demo_site[role]
    problems, per_view = crawl(_client(user, "en"), role, lang="en")
    pages = sum(per_view.values())
    print(f"crawl {role}: {pages} pages, {len(per_view)} views")  # shown with -s
    assert pages >= 5, per_view
    assert not problems, f"{len(problems)} problems over {pages} pages:\n" + "\n".join(map(str, problems))


# (role, page that shows the form, URL the form posts to)
CREATE_FORMS = [
    ("admin", "/console/customers/new/", "/console/customers/new/"),
    ("agent", "/console/kb/new/", "/console/kb/new/"),
    ("agent", "/console/service/new/", "/console/service/new/"),
    ("clerk", "/console/reads/", "/console/reads/new/"),
    ("customer", "/portal/tickets/", "/portal/tickets/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "page", "action"), CREATE_FORMS)
def test_empty_create_form_shows_field_errors_in_chinese(demo_site, role, page, action):
    """Posting a create form empty writes nothing and says, beside each required field, what is missing."""
    client = _client(demo_site[role], "zh-hans")
    shown = client.get(page)
    assert shown.status_code == 200
    assert f'action="{action}"' in shown.content.decode() or page == action
    # a browser always sends the CSRF token, so an "empty" form is never an empty POST
    response = client.post(action, {"csrfmiddlewaretoken": "x"})
    html = response.content.decode()
    assert response.status_code in (200, 400, 422), response.status_code
    assert "这个字段是必填项" in html
    assert "This field is required" not in html
    # the message sits beside its field (Bootstrap feedback, Django's errorlist or a per-field error block)
    assert re.search(r'(class="[^"]*(invalid-feedback|errorlist)|data-testid="error-\w+")[^>]*>[^<]*这个字段是必填项',
                     html), "no field-level error shown"
    assert not BAD_TEXT.search(html)
