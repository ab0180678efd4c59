"""Compiled layouts, stored by the SHA-256 of their code.

Not company-owned, on purpose: a module is public to whoever knows its hash, the way a CDN
serves files by content hash. The hash is 256 bits of the code itself, so knowing it means
already knowing the layout; the values a layout shows never reach the sandbox server (the
page hands them to the frame by postMessage). Rows are written once and never change.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CompiledLayout(models.Model):
    sha256 = models.CharField(_("SHA-256 of the code"), max_length=64, primary_key=True)
    code = models.TextField(_("compiled code"))
    compiler = models.CharField(_("compiler"), max_length=100, help_text=_('e.g. "esbuild 0.28.2"'))
    # Refreshed when it is used again, so the clean-up of unused modules keeps it.
    created_at = models.DateTimeField(_("compiled or last used"), auto_now_add=True)

    class Meta:
        verbose_name = _("compiled layout")
        verbose_name_plural = _("compiled layouts")

    def __str__(self) -> str:
        return self.sha256[:12]
