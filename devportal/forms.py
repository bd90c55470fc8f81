from django import forms

from publisher.models import PolicyLevel, ThrottlingPolicy


class ApplicationForm(forms.Form):
    name = forms.CharField(max_length=70)
    throttling_policy = forms.ChoiceField(label="Rate limit", choices=(), initial="Unlimited")
    description = forms.CharField(max_length=512, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["throttling_policy"].choices = [
            (p.name, f"{p.display_name} ({p.description})")
            for p in ThrottlingPolicy.objects.filter(level=PolicyLevel.APPLICATION)
        ]


class SubscribeForm(forms.Form):
    application = forms.ChoiceField(choices=())
    plan = forms.ChoiceField(label="Business plan", choices=())

    def __init__(self, *args, applications, plans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].choices = [(str(a.id), a.name) for a in applications]
        held = set(
            ThrottlingPolicy.objects.filter(
                level=PolicyLevel.SUBSCRIPTION, name__in=list(plans), requires_approval=True
            ).values_list("name", flat=True)
        )
        self.fields["plan"].choices = [
            (p, f"{p} (needs an administrator's approval)" if p in held else p) for p in plans
        ]
