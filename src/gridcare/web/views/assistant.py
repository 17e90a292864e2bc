"""Console: knowledge base (search, versions, draft → review → publish), IVR flow viewer with a
key-press simulator, quality inspection (review queue, per-agent scores) and assistant conversations.

Thin views: parse, one selector or service call, render. Permissions: everyone with
`customers.view` reads the knowledge base; `kb.edit` writes drafts, `kb.review` publishes;
`service.supervise` runs quality inspection; `service.work` reads conversations.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy
from django.views.decorators.http import require_POST

from gridcare.access.roles import can
from gridcare.assistant import ivr, selectors, services
from gridcare.assistant.models import ArticleVersion, Inspection
from gridcare.assistant.qa import load_rules
from gridcare.core.errors import GridcareError
from gridcare.web.access import staff_required


class KbSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=gettext_lazy("Search"),
                        widget=forms.TextInput(attrs={"class": "form-control", "type": "search",
                                                      "placeholder": gettext_lazy("Question or keywords")}))
    category = forms.ChoiceField(required=False, label=pgettext_lazy("knowledge base", "Category"),
                                 widget=forms.Select(attrs={"class": "form-select"}))
    status = forms.ChoiceField(required=False, label=gettext_lazy("Status"),
                               widget=forms.Select(attrs={"class": "form-select"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", pgettext("knowledge base", "All categories"))] + [
            (c.code, c.name) for c in selectors.categories()]
        self.fields["status"].choices = [("", _("Any status")), ("draft", _("Draft")), ("review", _("In review")),
                                         ("archived", _("Archived"))]


class ArticleForm(forms.Form):
    category = forms.ChoiceField(label=pgettext_lazy("knowledge base", "Category"), widget=forms.Select(attrs={"class": "form-select"}))
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200,
                            widget=forms.TextInput(attrs={"class": "form-control"}))
    body = forms.CharField(label=gettext_lazy("Body"), widget=forms.Textarea(attrs={"class": "form-control", "rows": 10}))
    questions = forms.CharField(label=gettext_lazy("Similar questions (one per line)"), required=False,
                                widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}))
    tags = forms.CharField(label=gettext_lazy("Tags (comma separated)"), required=False,
                           widget=forms.TextInput(attrs={"class": "form-control"}))
    source = forms.CharField(label=pgettext_lazy("knowledge base", "Source"), max_length=500,
                             widget=forms.TextInput(attrs={"class": "form-control"}))
    change_note = forms.CharField(label=gettext_lazy("Change note"), required=False, max_length=255,
                                  widget=forms.TextInput(attrs={"class": "form-control"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.code, c.name) for c in selectors.categories()]

    def to_input(self) -> services.ArticleInput:
        d = self.cleaned_data
        return services.ArticleInput(category=d["category"], title=d["title"], body=d["body"], source=d["source"],
                                     tags=d["tags"], questions=d["questions"].splitlines(), change_note=d["change_note"])


def _page(request, template: str, ctx: dict, status: int = 200):
    """Render with the capability flags the assistant tabs need."""
    role = request.user.role
    ctx = {"tab_review": can(role, "kb.review"), "tab_qa": can(role, "service.supervise"),
           "tab_conversations": can(role, "service.work"), **ctx}
    return render(request, template, ctx, status=status)


def _apply_error(form: forms.Form, exc: GridcareError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


# -- knowledge base -------------------------------------------------------------------------------------
@staff_required("customers.view")
def kb_list(request):
    form = KbSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    articles = selectors.article_search(q=filters.get("q", ""), category=filters.get("category", ""),
                                        status=filters.get("status", ""), published_only=False, limit=200)
    ctx = {"form": form, "articles": articles, "counts": selectors.kb_counts(),
           "can_edit": can(request.user.role, "kb.edit"), "can_review": can(request.user.role, "kb.review")}
    if request.htmx:
        return render(request, "web/assistant/_kb_results.html", ctx)
    return _page(request, "web/assistant/kb_list.html", ctx)


@staff_required("customers.view")
def kb_detail(request, key: str):
    article = selectors.article_get(key=key)
    if article is None:
        raise Http404
    ctx = {
        "article": article, "published": article.published_version,
        "open_version": selectors.open_version(article=article),
        "versions": selectors.article_versions(article=article),
        "can_edit": can(request.user.role, "kb.edit"), "can_review": can(request.user.role, "kb.review"),
    }
    return _page(request, "web/assistant/kb_detail.html", ctx)


def _form_initial(version: ArticleVersion | None, category: str = "") -> dict:
    if version is None:
        return {"category": category}
    return {"category": version.article.category.code, "title": version.title, "body": version.body,
            "questions": "\n".join(version.questions or ()), "tags": ", ".join(version.tags or ()),
            "source": version.source}


@staff_required("kb.edit")
def kb_create(request):
    form = ArticleForm(request.POST or None, initial=_form_initial(None, request.GET.get("category", "")))
    if request.method == "POST" and form.is_valid():
        try:
            version = services.article_create(actor=request.user, data=form.to_input(), as_of=timezone.now())
        except GridcareError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Draft saved. Submit it for review when it is ready."))
            return redirect("web:kb_detail", key=version.article.key)
    return _page(request, "web/assistant/kb_form.html", {"form": form, "article": None}, status=422 if form.errors else 200)


@staff_required("kb.edit")
def kb_edit(request, key: str):
    article = selectors.article_get(key=key)
    if article is None:
        raise Http404
    base = selectors.open_version(article=article) or article.published_version
    form = ArticleForm(request.POST or None, initial=_form_initial(base))
    if request.method == "POST" and form.is_valid():
        try:
            services.article_edit(actor=request.user, key=key, data=form.to_input(), as_of=timezone.now())
        except GridcareError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Draft saved. Submit it for review when it is ready."))
            return redirect("web:kb_detail", key=key)
    return _page(request, "web/assistant/kb_form.html", {"form": form, "article": article},
                  status=422 if form.errors else 200)


def _workflow(request, key: str, action, done: str):
    try:
        action()
    except GridcareError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("web:kb_detail", key=key)


@require_POST
@staff_required("kb.edit")
def kb_submit(request, key: str):
    return _workflow(request, key, lambda: services.article_submit(actor=request.user, key=key, as_of=timezone.now()),
                     _("Submitted for review."))


@require_POST
@staff_required("kb.review")
def kb_approve(request, key: str):
    return _workflow(request, key, lambda: services.article_approve(
        actor=request.user, key=key, note=request.POST.get("note", ""), as_of=timezone.now()), _("Published."))


@require_POST
@staff_required("kb.review")
def kb_reject(request, key: str):
    return _workflow(request, key, lambda: services.article_reject(
        actor=request.user, key=key, note=request.POST.get("note", ""), as_of=timezone.now()),
        _("Returned to the author."))


@require_POST
@staff_required("kb.review")
def kb_archive(request, key: str):
    archived = request.POST.get("archived", "1") == "1"
    return _workflow(request, key, lambda: services.article_archive(
        actor=request.user, key=key, archived=archived, as_of=timezone.now()),
        _("Archived.") if archived else _("Restored."))


@staff_required("kb.review")
def kb_review(request):
    return _page(request, "web/assistant/kb_review.html", {"versions": selectors.review_queue()})


# -- IVR ------------------------------------------------------------------------------------------------
@staff_required("customers.view")
def ivr_list(request):
    return _page(request, "web/assistant/ivr_list.html", {"flows": list(ivr.shipped_flows().values())})


@staff_required("customers.view")
def ivr_flow(request, code: str):
    try:
        flow = ivr.get_flow(code)
    except GridcareError:
        raise Http404 from None
    keys = (request.GET.get("keys") or "")[:60]
    index = {a.id: a for a in selectors.published_index().articles}

    def article_text(article_id: str) -> str:
        art = index.get(article_id)
        return f"{art.title} {art.summary(120)}" if art else f"[{article_id}]"

    session = ivr.simulate(flow, keys, article_text=article_text) if keys else None
    return _page(request, "web/assistant/ivr_flow.html", {
        "flow": flow, "tree": ivr.tree(flow), "keys": keys, "session": session,
        "depth": max(flow.depth().values()),
    })


# -- quality inspection ---------------------------------------------------------------------------------
@staff_required("service.supervise")
def qa_home(request):
    return _page(request, "web/assistant/qa.html", {
        "queue": selectors.review_queue_inspections(user=request.user)[:100],
        "scores": _scores_with_rule_names(selectors.agent_scores(user=request.user)),
        "summary": selectors.inspection_summary(user=request.user),
        "recent": selectors.inspection_list(user=request.user, agent=request.GET.get("agent", ""), limit=50),
        "agent": request.GET.get("agent", ""),
    })


def _scores_with_rule_names(scores) -> list[tuple]:
    """Each agent's score with its three most failed rules by name (findings are keyed by rule code)."""
    names = {r.code: r.label for r in load_rules().rules}
    return [(s, [(names.get(code, code), n) for code, n in list(s.findings.items())[:3]]) for s in scores]


class ReviewForm(forms.Form):
    final_score = forms.IntegerField(label=gettext_lazy("Final score"), min_value=0, max_value=100,
                                     widget=forms.NumberInput(attrs={"class": "form-control"}))
    note = forms.CharField(label=gettext_lazy("Review note"), max_length=500,
                           widget=forms.TextInput(attrs={"class": "form-control"}))


@staff_required("service.supervise")
def qa_detail(request, inspection_id: int):
    inspection = selectors.inspection_get(user=request.user, inspection_id=inspection_id)
    if inspection is None:
        raise Http404
    form = ReviewForm(request.POST or None, initial={"final_score": inspection.score})
    if request.method == "POST" and form.is_valid():
        try:
            services.inspection_review(actor=request.user, inspection_id=inspection.pk,
                                       final_score=form.cleaned_data["final_score"], note=form.cleaned_data["note"],
                                       as_of=timezone.now())
        except GridcareError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Review saved."))
            return redirect("web:assistant_qa")
    flagged = {f.get("turn") for f in inspection.findings}
    turns = [{"i": i, **t, "flagged": i in flagged} for i, t in enumerate(inspection.transcript.turns)]
    return _page(request, "web/assistant/qa_detail.html", {
        "inspection": inspection, "turns": turns, "form": form,
        "can_review": inspection.status == Inspection.Status.REVIEW,
    }, status=422 if form.errors else 200)


# -- conversations --------------------------------------------------------------------------------------
@staff_required("service.work")
def conversation_list(request):
    status = request.GET.get("status", "")
    return _page(request, "web/assistant/conversations.html", {
        "conversations": selectors.conversation_list(user=request.user, status=status), "status": status})


@staff_required("service.work")
def conversation_detail(request, token: str):
    conv = selectors.conversation_get(user=request.user, token=token)
    if conv is None:
        raise Http404
    return _page(request, "web/assistant/conversation.html", {
        "conversation": conv, "messages_": selectors.messages(conversation=conv)})


urlpatterns = [
    path("console/kb/", kb_list, name="kb_list"),
    path("console/kb/new/", kb_create, name="kb_create"),
    path("console/kb/review/", kb_review, name="kb_review"),
    path("console/kb/<str:key>/", kb_detail, name="kb_detail"),
    path("console/kb/<str:key>/edit/", kb_edit, name="kb_edit"),
    path("console/kb/<str:key>/submit/", kb_submit, name="kb_submit"),
    path("console/kb/<str:key>/approve/", kb_approve, name="kb_approve"),
    path("console/kb/<str:key>/reject/", kb_reject, name="kb_reject"),
    path("console/kb/<str:key>/archive/", kb_archive, name="kb_archive"),
    path("console/assistant/ivr/", ivr_list, name="assistant_ivr"),
    path("console/assistant/ivr/<str:code>/", ivr_flow, name="assistant_ivr_flow"),
    path("console/assistant/qa/", qa_home, name="assistant_qa"),
    path("console/assistant/qa/<int:inspection_id>/", qa_detail, name="assistant_qa_detail"),
    path("console/assistant/conversations/", conversation_list, name="assistant_conversations"),
    path("console/assistant/conversations/<str:token>/", conversation_detail, name="assistant_conversation"),
]
