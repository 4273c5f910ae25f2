from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations and webhooks"

    def ready(self):
        # boards does not import the apps built on it: it tells its listeners that a board has
        # new events, and this app sends the outbound webhooks subscribed to them.
        from boards import events
        from integrations.outbound import schedule_dispatch

        events.listen(schedule_dispatch)
