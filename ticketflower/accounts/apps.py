from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ticketflower.accounts"
    verbose_name = "Accounts"
