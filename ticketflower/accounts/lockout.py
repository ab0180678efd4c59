from typing import Any

from django.http import HttpRequest

from ticketflower.accounts.models import normalize_email


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The login e-mail django-axes counts failures against, case-folded.

    Without folding, "Ada@x.test" and "ada@x.test" would be counted apart, and varying the
    case would dodge the lockout.
    """
    username = (credentials or {}).get("username") or request.POST.get("username")
    return normalize_email(username) if username else None
