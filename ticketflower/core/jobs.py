"""Jobs of the demo's stand-in endpoints (see demo_endpoints.py)."""

import httpx
from django.conf import settings
from procrastinate.contrib.django import app


@app.task(name="core.demo_callback", retry=3)
def demo_callback(*, url: str, body: dict[str, object]) -> None:
    """The demo courier confirms a booking: POST to the task's callback URL on this site."""
    if not url.startswith(settings.PUBLIC_BASE_URL + "/api/v1/callbacks/"):
        return  # only ever this site's own callbacks
    httpx.post(url, json=body, timeout=10, trust_env=False)
