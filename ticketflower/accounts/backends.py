from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from ticketflower.accounts.models import User, normalize_email


class EmailBackend(ModelBackend):
    """Django's password backend, loading users across companies.

    A session or a login has no company context yet: the company comes *from* the user, so
    these two look-ups are the named exceptions to company scoping.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        user = User.unscoped.filter(email=normalize_email(username)).first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing hint
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id: Any) -> User | None:
        try:
            user = User.unscoped.select_related("company").get(pk=user_id)
        except (User.DoesNotExist, ValueError, TypeError):
            return None
        return user if self.user_can_authenticate(user) else None
