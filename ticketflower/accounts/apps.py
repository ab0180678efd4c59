from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ticketflower.accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from ticketflower.accounts import signals

        signals.connect()
