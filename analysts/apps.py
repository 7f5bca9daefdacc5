from django.apps import AppConfig


class AnalystsConfig(AppConfig):
    name = "analysts"

    def ready(self) -> None:
        # Connects the sign-in receivers: failed sign-ins reach the audit trail
        # only through Django's user_login_failed signal.
        from analysts import signals  # noqa: F401
