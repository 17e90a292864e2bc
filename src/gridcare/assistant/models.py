"""Knowledge base, assistant conversations and quality inspection records.

Articles are versioned: an `Article` is the stable identity (key such as "tariff-001"), each edit is an
`ArticleVersion` that goes draft → review → published under the two-person rule (services.py), and
the article points at the version customers see. Conversations keep every message with the intent,
confidence and article used, so a supervisor can see why the assistant said what it said. Quality
inspection (智能质检) stores imported chat/call transcripts and the rule results per transcript.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

USER = settings.AUTH_USER_MODEL


class ArticleCategory(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]
        verbose_name_plural = "article categories"

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    class Origin(models.TextChoices):
        SHIPPED = "shipped", _("Shipped with gridcare")
        LOCAL = "local", _("Written here")

    key = models.CharField(_("key"), max_length=32, unique=True)
    category = models.ForeignKey(ArticleCategory, on_delete=models.PROTECT, related_name="articles",
                                 verbose_name=pgettext_lazy("knowledge base", "category"))
    origin = models.CharField(_("origin"), max_length=8, choices=Origin.choices, default=Origin.LOCAL)
    published_version = models.ForeignKey("ArticleVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="+", verbose_name=_("published version"))
    archived = models.BooleanField(_("archived"), default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["category__position", "key"]

    def __str__(self) -> str:
        return self.key


class ArticleVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        REVIEW = "review", _("In review")
        PUBLISHED = "published", _("Published")
        SUPERSEDED = "superseded", _("Superseded")

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT,
                              db_index=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"))
    tags = models.JSONField(_("tags"), default=list, blank=True)
    questions = models.JSONField(_("similar questions"), default=list, blank=True)
    source = models.CharField(pgettext_lazy("knowledge base", "source"), max_length=500)
    change_note = models.CharField(_("change note"), max_length=255, blank=True)
    digest = models.CharField(max_length=64, help_text=_("content hash: a sync that finds it unchanged does nothing"))
    author = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("author"))
    created_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("reviewer"))
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["article_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="uniq_article_version"),
            # At most one open (draft or in review) version per article: edits queue behind review.
            models.UniqueConstraint(fields=["article"], condition=Q(status__in=["draft", "review"]),
                                    name="one_open_version_per_article"),
        ]

    def __str__(self) -> str:
        return f"{self.article.key} v{self.number}"


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("conversation", "Open")
        HANDED_OVER = "handed_over", _("Handed over")

    token = models.CharField(max_length=32, unique=True)
    channel = models.CharField(_("channel"), max_length=16)
    user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    account = models.ForeignKey("customers.Account", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    handover_reason = models.CharField(_("hand-over reason"), max_length=32, blank=True)
    work_order = models.ForeignKey("service.WorkOrder", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("work order"))
    started_at = models.DateTimeField(db_index=True)
    last_message_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["customer", "started_at"])]

    def __str__(self) -> str:
        return self.token


class Message(models.Model):
    class Role(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        ASSISTANT = "assistant", _("Assistant")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=12, choices=Role.choices)
    text = models.TextField()
    at = models.DateTimeField()
    kind = models.CharField(max_length=16, blank=True)
    intent = models.CharField(max_length=32, blank=True)
    intent_confidence = models.FloatField(null=True, blank=True)
    retrieval_confidence = models.FloatField(null=True, blank=True)
    article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    article_version = models.PositiveIntegerField(null=True, blank=True)
    low_confidence = models.BooleanField(default=False)
    offer = models.CharField(max_length=16, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["conversation_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["conversation", "seq"], name="uniq_message_seq")]


class Transcript(models.Model):
    """A chat or call transcript to inspect: turns of agent and customer with time offsets."""

    class Channel(models.TextChoices):
        CHAT = "chat", _("Chat")
        CALL = "call", _("Call")

    external_id = models.CharField(_("external id"), max_length=64, unique=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    agent = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    agent_name = models.CharField(_("agent"), max_length=64, db_index=True)
    org_unit = models.ForeignKey("customers.OrgUnit", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    started_at = models.DateTimeField(_("started at"), db_index=True)
    turns = models.JSONField(default=list)
    work_order_number = models.CharField(max_length=24, blank=True)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return self.external_id


class Inspection(models.Model):
    class Status(models.TextChoices):
        PASSED = "passed", _("Passed")
        REVIEW = "review", _("Waiting for review")
        REVIEWED = "reviewed", _("Reviewed")

    transcript = models.OneToOneField(Transcript, on_delete=models.CASCADE, related_name="inspection")
    rules_digest = models.CharField(max_length=16)
    score = models.PositiveSmallIntegerField(_("score"))
    findings = models.JSONField(default=list)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, db_index=True)
    inspected_at = models.DateTimeField()
    reviewer = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    final_score = models.PositiveSmallIntegerField(_("final score"), null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-inspected_at", "-id"]

    @property
    def effective_score(self) -> int:
        return self.final_score if self.final_score is not None else self.score
