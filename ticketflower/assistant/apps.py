from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "ticketflower.assistant"
    verbose_name = "Assistant"
