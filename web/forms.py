"""Forms of the web board. They check what a form can (types, required fields, a link's shape);
every rule beyond that is the services' (lengths are checked again there, naming the field)."""

from django import forms

from boards.models import Block, WorkItem
from readiness.models import Track


class CardForm(forms.Form):
    """A new card, added at the top of a column."""

    title = forms.CharField(max_length=300)
    kind = forms.ChoiceField(choices=WorkItem.Kind.choices, initial=WorkItem.Kind.FEATURE)
    class_of_service = forms.ChoiceField(
        choices=WorkItem.ClassOfService.choices, initial=WorkItem.ClassOfService.STANDARD
    )
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    column = forms.IntegerField(widget=forms.HiddenInput)


class CardEditForm(forms.Form):
    title = forms.CharField(max_length=300)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    kind = forms.ChoiceField(choices=WorkItem.Kind.choices)
    class_of_service = forms.ChoiceField(choices=WorkItem.ClassOfService.choices)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    external_url = forms.URLField(
        required=False, max_length=500, assume_scheme="https", label="Link to the ticket"
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    @classmethod
    def for_item(cls, item: WorkItem, data=None):
        initial = {
            "title": item.title,
            "description": item.description,
            "kind": item.kind,
            "class_of_service": item.class_of_service,
            "due_date": item.due_date,
            "external_url": item.external_url,
            "version": item.version,
        }
        return cls(data, initial=initial, prefix="edit")


class DiscardForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why is it discarded?")


class BlockForm(forms.Form):
    reason = forms.ChoiceField(choices=Block.Reason.choices, label="Blocked by")
    note = forms.CharField(required=False, max_length=2000, label="Note")
    criterion = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Holds up the criterion"
    )

    def __init__(self, *args, criteria=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["criterion"].choices = [("", "(none)")] + [
            (c.pk, f"{c.get_track_display()}: {c.title}") for c in criteria
        ]


class MeetForm(forms.Form):
    evidence_url = forms.URLField(
        required=False, max_length=500, assume_scheme="https", label="Evidence link (optional)"
    )


class WaiveForm(forms.Form):
    reason = forms.CharField(max_length=2000, label="Why is it waived?")


class ReopenForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000, label="Why reopen it?")


class CriterionForm(forms.Form):
    title = forms.CharField(max_length=200)
    track = forms.ChoiceField(choices=Track.choices)
    gate_column = forms.TypedChoiceField(coerce=int, label="Gate (column it guards)")
    required = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, columns=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gate_column"].choices = [(c.pk, c.name) for c in columns]


def errors_text(form: forms.Form) -> str:
    """A form's errors as one sentence for a message."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label or name.replace("_", " ") if name in form.fields else ""
        text = " ".join(errors)
        parts.append(f"{str(label).capitalize()}: {text}" if label else text)
    return " ".join(parts)
