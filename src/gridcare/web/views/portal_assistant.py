"""Portal: the assistant chat (7×24 answers from the knowledge base and the customer's own data, with
hand-over to a person) and the help centre (search of published articles).

The conversation token lives in the session, so a reload shows the same conversation; the first
message starts one. Posting works with and without HTMX (HTMX appends the new turn in place).
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from gridcare.assistant import selectors, services
from gridcare.core.errors import GridcareError
from gridcare.customers import selectors as customer_selectors
from gridcare.web.access import portal_required

SESSION_KEY = "assistant_conversation"
MAX_POST_CHARS = 20000  # longer posts are cut here; the assistant itself reads the first 500 characters


def _conversation(request):
    token = request.session.get(SESSION_KEY)
    return selectors.conversation_get(user=request.user, token=token) if token else None


def _messages(conv):
    if conv is None:
        return []
    return list(selectors.messages(conversation=conv).select_related("article__published_version"))


def _accounts(request):
    return list(customer_selectors.account_list(user=request.user, as_of=timezone.localdate())[:20])


@portal_required
def portal_assistant(request):
    conv = _conversation(request)
    if request.method == "POST":
        text = (request.POST.get("text") or "")[:MAX_POST_CHARS]
        account = (request.POST.get("account") or "").strip()
        now = timezone.now()
        error = ""
        try:
            if conv is None:
                conv = services.conversation_start(user=request.user, channel="portal", as_of=now,
                                                   account_number=account)
                request.session[SESSION_KEY] = conv.token
            result = services.conversation_post(user=request.user, token=conv.token, text=text, as_of=now,
                                                account_number=account)
            new = [result.question, result.answer]
        except GridcareError as exc:
            error, new = exc.message, []
        if request.htmx:
            return render(request, "web/assistant/_chat_turns.html", {"chat": new, "error": error})
        return redirect("web:portal_assistant")
    return render(request, "web/assistant/portal_chat.html", {
        "conversation": conv, "chat": _messages(conv), "accounts": _accounts(request),
        "current": conv.account.number if conv is not None and conv.account_id else "",
    })


@require_POST
@portal_required
def portal_assistant_handover(request):
    conv = _conversation(request)
    error, new = "", []
    if conv is None:
        conv = services.conversation_start(user=request.user, channel="portal", as_of=timezone.now())
        request.session[SESSION_KEY] = conv.token
    try:
        result = services.conversation_handover(user=request.user, token=conv.token, as_of=timezone.now(),
                                                reason=request.POST.get("reason") or "asked")
        new = [result.question, result.answer]
    except GridcareError as exc:
        error = exc.message
    if request.htmx:
        return render(request, "web/assistant/_chat_turns.html", {"chat": new, "error": error})
    return redirect("web:portal_assistant")


@require_POST
@portal_required
def portal_assistant_new(request):
    request.session.pop(SESSION_KEY, None)
    return redirect("web:portal_assistant")


@portal_required
def portal_kb(request):
    q = (request.GET.get("q") or "").strip()[:200]
    category = request.GET.get("category", "")
    articles = selectors.article_search(q=q, category=category, published_only=True, limit=30 if q else 200)
    return render(request, "web/assistant/portal_kb.html", {
        "q": q, "category": category, "articles": articles, "categories": selectors.categories()})


@portal_required
def portal_kb_article(request, key: str):
    article = selectors.article_get(key=key, published_only=True)
    if article is None:
        raise Http404
    return render(request, "web/assistant/portal_article.html", {"article": article, "version": article.published_version})


urlpatterns = [
    path("portal/assistant/", portal_assistant, name="portal_assistant"),
    path("portal/assistant/handover/", portal_assistant_handover, name="portal_assistant_handover"),
    path("portal/assistant/new/", portal_assistant_new, name="portal_assistant_new"),
    path("portal/help/", portal_kb, name="portal_kb"),
    path("portal/help/<str:key>/", portal_kb_article, name="portal_kb_article"),
]
