"""API tokens in the admin: an ops lead creates one for an integration (its key is shown once,
then only its hash is kept) and revokes it; tokens are never edited or deleted (a revoked
token's user stays the actor of what it did)."""

from django import forms
from django.contrib import admin, messages

from api import services
from api.models import ApiToken
from boards.models import BoardMembership
from flowboard.admin import ServiceAdmin


class TokenForm(forms.ModelForm):
    role = forms.ChoiceField(
        choices=BoardMembership.Role.choices,
        initial=BoardMembership.Role.MEMBER,
        help_text="What the token may do on its board: viewers read, members change work, ops "
        "leads also configure the board.",
    )

    class Meta:
        model = ApiToken
        fields = ("board", "name")


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceAdmin):
    list_display = (
        "name",
        "board",
        "key_prefix",
        "role",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("board", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("board", "user")
    search_fields = ("name", "key_prefix")
    readonly_fields = ("board", "name", "key_prefix", "role", "created_at", "created_by",
                       "last_used_at", "revoked_at")  # fmt: skip
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TokenForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj else ("board", "name", "role")

    @admin.display(description="role")
    def role(self, token):
        membership = BoardMembership.objects.filter(board=token.board, user=token.user).first()
        return membership.get_role_display() if membership else "-"

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        token, key = services.token_create(
            form.cleaned_data["board"],
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
            created_by=request.user,
        )
        obj.pk, obj._state.adding = token.pk, False
        self.message_user(
            request,
            f"The key of {token.name}: {key}. Copy it now: it is shown only once (Flowboard "
            "keeps only its hash). Send it as 'Authorization: Token <key>'.",
            messages.WARNING,
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(
        description="Revoke the selected tokens (they stop working at once)", permissions=["act"]
    )
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True).select_related("user"):
            services.token_revoke(token)
            revoked += 1
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)
