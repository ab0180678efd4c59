from django.contrib.auth import views as auth_views
from django.urls import path

from ticketflower.accounts import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.SignUpView.as_view(), name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("profile/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/notifications/", views.NotificationsView.as_view(), name="notifications"),
    path("profile/tokens/", views.ApiTokenCreateView.as_view(), name="api_token_create"),
    path(
        "profile/tokens/<int:token_id>/revoke/", views.ApiTokenRevokeView.as_view(), name="api_token_revoke"
    ),
]
