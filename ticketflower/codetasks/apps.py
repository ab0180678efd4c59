from django.apps import AppConfig


class CodeTasksConfig(AppConfig):
    name = "ticketflower.codetasks"
    verbose_name = "Code tasks"
