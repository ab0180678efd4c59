"""Sign-up, login, password reset and profile pages. Thin: forms validate, services write."""

from typing import Any, cast

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView

from ticketflower.accounts import services
from ticketflower.accounts.forms import (
    ApiTokenForm,
    LoginForm,
    NotificationsForm,
    PasswordChangeForm,
    PasswordResetForm,
    ProfileForm,
    SetPasswordForm,
    SignUpForm,
)
from ticketflower.accounts.lockout import rate_limited_response
from ticketflower.accounts.models import ApiToken, User, normalize_email
from ticketflower.accounts.selectors import user_api_tokens
from ticketflower.core.pages import UnfoldPageMixin
from ticketflower.core.ratelimit import client_network, rate_limit_hit, rate_limit_wait
from ticketflower.tenancy.context import company_context_of


def over_limit(
    request: HttpRequest, scope: str, key: str, *, per_address: bool = False
) -> HttpResponse | None:
    """Count one attempt against RATE_LIMITS[scope]; the 429 page once the limit is passed."""
    wait = rate_limit_hit(scope=scope, key=key, **settings.RATE_LIMITS[scope])
    return None if wait is None else rate_limited_response(request, wait=wait, per_address=per_address)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class SignUpView(UnfoldPageMixin, FormView[SignUpForm]):
    template_name = "accounts/signup.html"
    form_class = SignUpForm
    title = _("Create your company")

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated:
            return redirect("portal:dashboard")
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Every attempt counts, so the "address already registered" answer cannot be mined.
        limited = over_limit(request, "signups_per_network", client_network(request))
        return limited or super().post(request, *args, **kwargs)

    def form_valid(self, form: SignUpForm) -> HttpResponse:
        try:
            user = services.company_sign_up(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        login(self.request, user, backend="ticketflower.accounts.backends.EmailBackend")
        welcome = _("Welcome to TicketFlower, %(name)s.") % {"name": user.get_short_name()}
        messages.success(self.request, welcome)
        return redirect("portal:dashboard")


class LoginView(UnfoldPageMixin, auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
    title = _("Log in")

    def get_redirect_url(self, request: HttpRequest | None = None) -> str:
        # A `next` pointing back at this page would loop for someone already logged in.
        url = super().get_redirect_url()
        return "" if url.split("?")[0] == self.request.path else url

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Refused before any password is checked once the network has failed too often.
        scope = "login_failures_per_network"
        wait = rate_limit_wait(scope=scope, key=client_network(request), **settings.RATE_LIMITS[scope])
        if wait is not None:
            return rate_limited_response(request, wait=wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        scope = "login_failures_per_network"
        rate_limit_hit(scope=scope, key=client_network(self.request), **settings.RATE_LIMITS[scope])
        return super().form_invalid(form)


class PasswordResetView(UnfoldPageMixin, auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    form_class = PasswordResetForm
    success_url = reverse_lazy("accounts:password_reset_done")
    title = _("Reset your password")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limited = over_limit(request, "password_resets_per_network", client_network(request))
        return limited or super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        # Counted whether or not the address has an account: the answer stays the same for both.
        email = normalize_email(form.cleaned_data["email"])
        limited = over_limit(self.request, "password_resets_per_address", email, per_address=True)
        return limited or super().form_valid(form)


class PasswordResetDoneView(UnfoldPageMixin, auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"
    title = _("Check your e-mail")


class PasswordResetConfirmView(UnfoldPageMixin, auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = SetPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")
    title = _("Choose a new password")

    def form_valid(self, form: Any) -> HttpResponse:
        user: User = form.user
        with company_context_of(user):
            response = super().form_valid(form)
        if self.request.user.is_authenticated and self.request.user.pk != user.pk:
            logout(self.request)  # whoever was logged in here is not who owns the link
        # The new password ends a lockout, as the lockout page promises.
        axes_reset(username=normalize_email(user.email))
        return response

    def get_user(self, uidb64: str) -> User | None:
        # The link proves control of the mailbox, not membership of a company: the user is
        # looked up across companies, exactly as login does.
        try:
            uid = urlsafe_base64_decode(uidb64).decode()
            return User.unscoped.get(pk=uid)
        except (TypeError, ValueError, OverflowError, User.DoesNotExist, ValidationError):
            return None


class PasswordResetCompleteView(UnfoldPageMixin, auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
    title = _("Password changed")


class ProfilePageMixin(LoginRequiredMixin, UnfoldPageMixin):
    """The profile page's context: every form on it, and the person's API tokens.

    Each form posts to its own view, which renders this page again with its bound form (or
    redirects back). Platform operators have no company, hence no tokens or notifications.
    """

    template_name: str | None = "accounts/profile.html"
    title = _("Your profile")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = cast(User, self.request.user)
        context.setdefault("form", ProfileForm(initial=ProfileView.initial_for(user), user=user))
        context["has_company"] = user.company_id is not None
        if user.company_id is not None:
            context.setdefault(
                "notifications_form", NotificationsForm(initial=NotificationsForm.initial_for(user))
            )
            context.setdefault("token_form", ApiTokenForm())
            context["api_tokens"] = list(user_api_tokens(user))
        return context

    def company_user(self) -> User:
        user = cast(User, self.request.user)
        if user.company_id is None:
            raise Http404("Platform operators have no company profile settings.")
        return user


class ProfileView(ProfilePageMixin, FormView[ProfileForm]):
    form_class = ProfileForm

    @staticmethod
    def initial_for(user: User) -> dict[str, Any]:
        return {"first_name": user.first_name, "last_name": user.last_name, "email": user.email}

    def get_initial(self) -> dict[str, Any]:
        return self.initial_for(cast(User, self.request.user))

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form: ProfileForm) -> HttpResponse:
        user = cast(User, self.request.user)
        try:
            services.profile_update(
                user=user,
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                email=form.cleaned_data["email"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Your profile is saved."))
        return redirect("accounts:profile")


class NotificationsView(ProfilePageMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        user = self.company_user()
        form = NotificationsForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(notifications_form=form))
        services.notification_preferences_update(user=user, **form.cleaned_data)
        messages.success(request, _("Your e-mail choices are saved."))
        return redirect("accounts:profile")


class ApiTokenCreateView(ProfilePageMixin, TemplateView):
    """Make a token and show its secret on the page this once (the response is not cached)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        user = self.company_user()
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                token, secret = services.api_token_create(
                    user=user, name=form.cleaned_data["name"], expires_at=form.expires_at()
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(request, _("The token “%(name)s” is made.") % {"name": token.name})
                context = self.get_context_data(new_token=token, new_secret=secret)
                response = self.render_to_response(context)
                response["Cache-Control"] = "no-store"
                return response
        return self.render_to_response(self.get_context_data(token_form=form))


class ApiTokenRevokeView(LoginRequiredMixin, UnfoldPageMixin, TemplateView):
    """Asks first (GET), revokes on POST. Another person's token is a 404, like a missing one."""

    template_name = "accounts/api_token_revoke.html"
    title = _("Revoke an API token")

    def token(self) -> ApiToken:
        user = cast(User, self.request.user)
        if user.company_id is None:
            raise Http404("No such token.")
        return get_object_or_404(user_api_tokens(user), pk=self.kwargs["token_id"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(token=self.token(), **kwargs)

    def post(self, request: HttpRequest, token_id: int) -> HttpResponse:
        token = services.api_token_revoke(user=cast(User, request.user), token=self.token())
        messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
        return redirect("accounts:profile")


class PasswordChangeView(UnfoldPageMixin, auth_views.PasswordChangeView):
    """Django's view: it re-checks the old password and keeps this session logged in."""

    template_name = "accounts/password_change.html"
    form_class = PasswordChangeForm
    success_url = reverse_lazy("accounts:profile")
    title = _("Change your password")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is changed."))
        return response
