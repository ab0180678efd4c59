"""A designer's try of a code task: the source and sample input, run by a job, and what came of it.

Trying never runs in the request: the page creates a trial and its job in one transaction and
asks for the trial until it is done. Each person keeps only their latest trials.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ticketflower.definitions.models import TaskDefinition
from ticketflower.tenancy.constraints import company_key, same_company
from ticketflower.tenancy.models import CompanyOwnedModel


class CodeTrial(CompanyOwnedModel):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to run")
        DONE = "done", _("Done")

    task = models.ForeignKey(
        TaskDefinition, on_delete=models.CASCADE, related_name="+", verbose_name=_("task")
    )
    source = models.TextField(_("code"))
    input = models.JSONField(_("input"), default=dict)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    # The sandbox's outcome kind (sandbox.Outcome.kind): "ok", "exception", "timeout", ...
    outcome = models.CharField(_("outcome"), max_length=16, blank=True)
    output = models.JSONField(_("output"), null=True, blank=True)
    # What the output schema says of the output: {field: [messages]} ("" for the whole).
    output_problems = models.JSONField(_("output problems"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)
    traceback = models.TextField(_("traceback"), blank=True)
    log = models.TextField(_("printed"), blank=True)
    ms = models.PositiveIntegerField(_("milliseconds"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("tried by")
    )
    created_at = models.DateTimeField(_("tried"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("code try")
        verbose_name_plural = _("code tries")
        indexes = [models.Index(fields=["created_by", "-id"], name="codetasks_trial_mine")]
        constraints = [company_key("codetasks_trial"), *same_company("codetasks_trial", "task", "created_by")]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"
