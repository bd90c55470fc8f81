from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self):
        # The Dev Portal (below) shows each subscription's use of its plan, which only the
        # traffic the gateways report here can tell.
        from analytics.selectors import usage
        from devportal.selectors import usage_counter_register

        usage_counter_register(usage)
