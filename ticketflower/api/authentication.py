"""Bearer tokens, the API's only way in: `Authorization: Bearer tf_<prefix>_<random>`.

No session authentication: a browser's login cookie never authenticates an API request, so
the API needs no CSRF protection and a page's script cannot call it as the visitor.
"""

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from ticketflower.accounts.models import ApiToken, User
from ticketflower.accounts.selectors import api_token_by_hash
from ticketflower.accounts.services import API_TOKEN_PREFIX, api_token_hash, api_token_mark_used

SCHEME = "Bearer"
_UNKNOWN = "Invalid token."


class BearerTokenAuthentication(BaseAuthentication):
    """Finds the token by the SHA-256 of the secret sent; refuses revoked, expired and inactive.

    No Authorization header: not authenticated (the view's permission answers 401). A header
    of another scheme, a malformed or unknown secret: 401 with a reason.
    """

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].decode("latin-1").lower() != SCHEME.lower():
            raise AuthenticationFailed(f"Send the token as `Authorization: {SCHEME} <token>`.")
        if len(header) != 2:
            raise AuthenticationFailed(f"Send exactly one token after `{SCHEME}`.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_UNKNOWN) from None
        if not secret.startswith(API_TOKEN_PREFIX):
            raise AuthenticationFailed(_UNKNOWN)
        token = api_token_by_hash(api_token_hash(secret))
        if token is None:
            raise AuthenticationFailed(_UNKNOWN)
        if token.revoked_at is not None:
            raise AuthenticationFailed("This token was revoked.")
        if token.expired(timezone.now()):
            raise AuthenticationFailed("This token has expired.")
        user = token.user
        if user.company_id != token.company_id:  # the database forbids it; never trust it blindly
            raise AuthenticationFailed(_UNKNOWN)
        if not user.is_active:
            raise AuthenticationFailed("This token's account is deactivated.")
        api_token_mark_used(token=token)
        return user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to a request without valid credentials.
        return f'{SCHEME} realm="api"'
