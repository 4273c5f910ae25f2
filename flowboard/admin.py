"""Admin pieces shared by the apps."""

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.http import HttpResponseRedirect

from flowboard.errors import FlowboardError


class ActsOnChangePermission:
    """Admin actions declared with ``permissions=["act"]`` need the model's change permission
    (a staff user who may only view does not see them, and cannot post them), even where the
    change form itself is closed (read-only history, whose actions go through services)."""

    def has_act_permission(self, request) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")


class ReadOnlyAdmin(ActsOnChangePermission, admin.ModelAdmin):
    """For history and derived data: viewable, never added, changed or deleted in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceAdmin(ActsOnChangePermission, admin.ModelAdmin):
    """For models whose writes go through services: ``save_model`` and ``save_related`` call a
    service, and a refusal it raises (a WIP limit, a gate, a stale version) rolls the whole
    admin save back and brings the ops lead back to the form with the reason, instead of a
    half-saved object and a success message."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except FlowboardError as refusal:  # raised in save_model/save_related: rolled back
            self.message_user(request, f"Nothing was saved: {refusal.message}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request, obj=None):
        return False
