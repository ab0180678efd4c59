import math
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from ticketflower.accounts.models import normalize_email
from ticketflower.core.pages import unfold_context


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The login e-mail django-axes counts failures against, case-folded.

    Without folding, "Ada@x.test" and "ada@x.test" would be counted apart, and varying the
    case would dodge the lockout.
    """
    username = (credentials or {}).get("username") or request.POST.get("username")
    # Bounded like the login field, so an overlong value cannot break the attempt log.
    return normalize_email(username)[:254] if username else None


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """The page shown while locked out: the portal's look, and the wait in plain minutes."""
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    context = {**unfold_context(request), "title": _("Too many failed logins"), "cooloff_minutes": minutes}
    return render(request, "accounts/locked_out.html", context, status=429)


def rate_limited_response(request: HttpRequest, *, wait: int, per_address: bool = False) -> HttpResponse:
    """429 in the portal's look: too many attempts from this network (or for this address)."""
    context = {
        **unfold_context(request),
        "title": _("Too many attempts"),
        "wait_minutes": max(1, math.ceil(wait / 60)),
        "per_address": per_address,
    }
    response = render(request, "accounts/rate_limited.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response
