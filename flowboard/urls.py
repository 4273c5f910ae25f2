from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from flowboard.views import healthz

admin.site.site_header = "Flowboard operations"
admin.site.site_title = "Flowboard"
admin.site.index_title = "Boards, readiness and flow"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("metrics.urls")),
]
