from django import forms


class ApiCreateForm(forms.Form):
    name = forms.CharField(max_length=60, help_text="Shown to developers, e.g. Notifications")
    context = forms.CharField(max_length=200, help_text="Path prefix on the gateway, e.g. /notifications")
    version = forms.CharField(max_length=30, initial="1.0.0")
    endpoint = forms.CharField(
        label="Production endpoint", max_length=2000, help_text="The backend WebSocket URL, ws:// or wss://"
    )


class ApiImportForm(forms.Form):
    file = forms.FileField(required=False, label="AsyncAPI file (YAML or JSON)")
    url = forms.URLField(
        required=False,
        label="…or fetch it from a URL",
        assume_scheme="https",
        help_text="http(s) on a public address, at most 2 MiB",
    )
    definition = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 8}), label="…or paste the definition"
    )
    name = forms.CharField(max_length=60, required=False, help_text="Defaults to the document's info.title")
    context = forms.CharField(max_length=200, help_text="Path prefix on the gateway, e.g. /chats")
    version = forms.CharField(max_length=30, required=False, help_text="Defaults to the document's info.version")
    endpoint = forms.CharField(
        label="Production endpoint",
        max_length=2000,
        required=False,
        help_text="Defaults to the document's servers.production.url",
    )

    def clean(self):
        data = super().clean()
        given = [bool(data.get("file")), bool(data.get("url")), bool((data.get("definition") or "").strip())]
        if not any(given):
            raise forms.ValidationError("Choose an AsyncAPI file, give its URL or paste the definition.")
        if sum(given) > 1:
            raise forms.ValidationError("Give the definition one way only: a file, a URL or pasted text.")
        return data


class RevisionForm(forms.Form):
    description = forms.CharField(max_length=255, required=False)
