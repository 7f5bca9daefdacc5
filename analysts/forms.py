from datetime import timedelta

from django import forms
from django.utils import timezone

LIFETIMES = {"30": 30, "90": 90, "365": 365, "never": None}


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What the token is for, e.g. “import script on the team laptop”.",
    )
    lifetime = forms.ChoiceField(
        label="Expires",
        choices=[
            ("30", "in 30 days"),
            ("90", "in 90 days"),
            ("365", "in a year"),
            ("never", "never (revoke it by hand)"),
        ],
        initial="90",
    )

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def expires_at(self):
        days = LIFETIMES[self.cleaned_data["lifetime"]]
        return timezone.now() + timedelta(days=days) if days else None
