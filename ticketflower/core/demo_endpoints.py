"""Stand-ins for a supplier's and a courier's systems, so the demo's actions run on one machine.

Served only with DEBUG on (404 otherwise). The demo company's bundles point at
`https://supplier.example.com` and `https://courier.example.com`; `load_demo` points those
actions here instead (`PUBLIC_BASE_URL/demo/...`).
"""

import datetime
import hashlib
import json
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

# The hosts the sample bundles name, and where the demo serves them.
DEMO_HOSTS = {
    "https://supplier.example.com/api": "/demo/supplier",
    "https://courier.example.com": "/demo/courier",
}
CALLBACK_DELAY_SECONDS = 3


def demo_url(action_url: str) -> str:
    """The demo's stand-in for one of the sample bundles' action URLs (others unchanged)."""
    for host, local in DEMO_HOSTS.items():
        if action_url.startswith(host + "/"):
            return str(settings.PUBLIC_BASE_URL) + local + action_url[len(host) :]
    return action_url


def _body(request: HttpRequest) -> dict[str, Any]:
    if not settings.DEBUG:
        raise Http404("The demo endpoints exist only with DEBUG on.")
    try:
        body = json.loads(request.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Http404("Send a JSON object.")
    return body


@csrf_exempt
@require_POST
def supplier_orders(request: HttpRequest) -> JsonResponse:
    """Place an order: the same Idempotency-Key always gets the same order (as a real API would)."""
    body = _body(request)
    key = request.headers.get("Idempotency-Key", "") + json.dumps(body, sort_keys=True)
    order_id = "SUP-" + hashlib.sha256(key.encode()).hexdigest()[:8].upper()
    delivery = timezone.localdate() + datetime.timedelta(days=5)
    return JsonResponse({"order_id": order_id, "delivery_date": delivery.isoformat(), "sku": body.get("sku")})


@csrf_exempt
@require_POST
def courier_bookings(request: HttpRequest) -> JsonResponse:
    """Accept a booking now; confirm it a few seconds later by calling the callback URL back."""
    from ticketflower.core import jobs

    body = _body(request)
    callback = str(body.get("callback_url") or "")
    if not callback.startswith(settings.PUBLIC_BASE_URL + "/api/v1/callbacks/"):
        return JsonResponse({"detail": "callback_url must be this site's callback URL."}, status=400)
    reference = str(body.get("reference") or "parcel")
    tracking = "TRK-" + hashlib.sha256(reference.encode()).hexdigest()[:10].upper()
    pickup = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(hours=2)
    confirmation: dict[str, Any] = {
        "tracking": tracking,
        "pickup_at": pickup.isoformat().replace("+00:00", "Z"),
    }
    jobs.demo_callback.configure(schedule_in={"seconds": CALLBACK_DELAY_SECONDS}).defer(
        url=callback, body=confirmation
    )
    return JsonResponse({"status": "booked", "confirmation_in_seconds": CALLBACK_DELAY_SECONDS}, status=202)


urlpatterns = [
    path("supplier/orders", supplier_orders, name="demo_supplier_orders"),
    path("courier/bookings", courier_bookings, name="demo_courier_bookings"),
]
