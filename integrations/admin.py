"""Integrations in the admin, for ops leads: connect a GitHub repository or a Jira project to a
board (secret and status mapping), see every delivery it sent with its status and error, and
replay the ones that failed once the cause is fixed; subscribe URLs to the board's events and
see each outbound delivery with every attempt."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.html import format_html

from boards.models import Event
from flowboard.admin import ReadOnlyAdmin, ServiceAdmin
from flowboard.errors import FlowboardError
from integrations import inbound, outbound, services
from integrations.models import (
    Delivery,
    Integration,
    OutboundAttempt,
    OutboundDelivery,
    Subscription,
)


class IntegrationForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The webhook secret set in GitHub or Jira (16+ characters). Leave empty when "
        "editing to keep the current one.",
    )
    mapping_text = forms.CharField(
        label="Status mapping",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 60}),
        help_text="One per line (or comma-separated): STATUS=COLUMN, e.g. 'In Progress=Build'. "
        "GitHub issues use the statuses opened, reopened and closed; project cards their "
        "Status option names. A status named like a column needs no line.",
    )

    class Meta:
        model = Integration
        fields = ("board", "kind", "name", "active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["board"].disabled = True
            self.fields["kind"].disabled = True
            self.fields["mapping_text"].initial = "\n".join(
                f"{status}={column}" for status, column in self.instance.mapping.items()
            )
        else:
            self.fields["secret"].required = True

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        board = data.get("board") or self.instance.board
        text = (data.get("mapping_text") or "").replace("\r", "").replace("\n", ",")
        try:
            mapping = services.check_mapping(board, services.parse_mapping(text))
            candidate = Integration(
                pk=self.instance.pk,
                board=board,
                kind=data.get("kind") or self.instance.kind,
                name=data.get("name", ""),
                secret=data.get("secret") or self.instance.secret,
                mapping=mapping,
            )
            services.check(candidate)
        except FlowboardError as error:
            raise forms.ValidationError(error.message) from None
        clash = Integration.objects.filter(board=board, name=candidate.name)
        if clash.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"{board.name} already has an integration of that name.")
        data["mapping"] = mapping
        data["secret"] = candidate.secret
        return data


@admin.register(Integration)
class IntegrationAdmin(ServiceAdmin):
    form = IntegrationForm
    list_display = ("name", "kind", "board", "active", "failed_deliveries", "webhook_url")
    list_filter = ("kind", "board", "active")
    list_select_related = ("board",)
    readonly_fields = ("webhook_url", "created_at")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(failed=Count("deliveries", filter=Q(deliveries__status="failed")))
        )

    @admin.display(description="failed deliveries", ordering="failed")
    def failed_deliveries(self, integration):
        if not integration.failed:
            return 0
        return format_html(
            '<a href="../delivery/?integration__id__exact={}&status__exact=failed">{}</a>',
            integration.pk,
            integration.failed,
        )

    @admin.display(description="webhook URL (register it in GitHub or Jira)")
    def webhook_url(self, integration):
        if not integration.pk:
            return "Shown once saved."
        return settings.PUBLIC_URL + services.webhook_path(integration)

    def save_model(self, request, obj, form, change):
        obj.mapping = form.cleaned_data["mapping"]
        obj.secret = form.cleaned_data["secret"]
        super().save_model(request, obj, form, change)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Every inbound delivery, raw; failed, ignored and superseded ones can be replayed."""

    list_display = ("received_at", "integration", "event", "delivery_id", "status", "short_error")
    list_filter = ("status", "integration", "event")
    list_select_related = ("integration",)
    search_fields = ("delivery_id", "external_key", "error")
    date_hierarchy = "received_at"
    fields = ("integration", "delivery_id", "event", "status", "error", "attempts",
              "received_at", "processed_at", "external_key", "event_at", "order", "headers",
              "body")  # fmt: skip
    readonly_fields = fields
    actions = ["replay"]

    @admin.display(description="error")
    def short_error(self, delivery):
        return delivery.error[:120]

    @admin.action(
        description="Replay the selected deliveries (failed, ignored, superseded)",
        permissions=["act"],
    )
    def replay(self, request, queryset):
        done, refused = 0, []
        for delivery in queryset:
            try:
                inbound.replay(delivery)
                done += 1
            except FlowboardError as error:
                refused.append(error.message)
        if done:
            self.message_user(request, f"{done} deliver{'y' if done == 1 else 'ies'} replayed.")
        for message in refused[:5]:
            self.message_user(request, message, messages.WARNING)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        if not request.user.has_perm("integrations.change_delivery"):
            actions.pop("replay", None)
        return actions


class SubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=Event.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Signs every body (X-Flowboard-Signature: sha256=<HMAC>), 16+ characters. "
        "Leave empty when editing to keep the current one.",
    )

    class Meta:
        model = Subscription
        fields = ("board", "url", "events", "active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["board"].disabled = True
        else:
            self.fields["secret"].required = True

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        candidate = Subscription(
            board=data.get("board") or self.instance.board,
            url=data.get("url", ""),
            secret=data.get("secret") or self.instance.secret,
            events=list(data.get("events") or []),
        )
        try:
            outbound.subscription_check(candidate)
        except FlowboardError as error:
            raise forms.ValidationError(error.message) from None
        data["secret"] = candidate.secret
        return data


class AttemptInline(admin.TabularInline):
    model = OutboundAttempt
    extra = 0
    can_delete = False
    fields = ("number", "at", "status_code", "duration_ms", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ServiceAdmin):
    form = SubscriptionForm
    list_display = ("url", "board", "event_types", "active", "failed_deliveries")
    list_filter = ("board", "active")
    list_select_related = ("board",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(failed=Count("deliveries", filter=Q(deliveries__status="failed")))
        )

    @admin.display(description="events")
    def event_types(self, subscription):
        return ", ".join(subscription.events) or "all"

    @admin.display(description="given up", ordering="failed")
    def failed_deliveries(self, subscription):
        return subscription.failed

    def save_model(self, request, obj, form, change):
        if change:
            obj.secret = form.cleaned_data["secret"]
            obj.events = list(form.cleaned_data.get("events") or [])
            obj.save()
            outbound.forget_subscribers(obj.board_id)
            return
        created = outbound.subscription_create(
            form.cleaned_data["board"],
            url=form.cleaned_data["url"],
            secret=form.cleaned_data["secret"],
            events=form.cleaned_data.get("events") or [],
        )
        obj.pk, obj._state.adding = created.pk, False


@admin.register(OutboundDelivery)
class OutboundDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "subscription", "status", "attempts", "next_attempt_at",
                    "last_error")  # fmt: skip
    list_filter = ("status", "kind", "subscription")
    list_select_related = ("subscription",)
    fields = ("subscription", "event", "delivery_id", "kind", "status", "attempts",
              "next_attempt_at", "last_error", "created_at", "delivered_at")  # fmt: skip
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["send_again"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(
        description="Send the selected deliveries again (a new round of attempts)",
        permissions=["act"],
    )
    def send_again(self, request, queryset):
        done = 0
        for delivery in queryset.exclude(status=OutboundDelivery.Status.DELIVERED):
            outbound.resend(delivery)
            done += 1
        self.message_user(request, f"{done} deliver{'y' if done == 1 else 'ies'} queued again.")
