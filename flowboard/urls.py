from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from flowboard.api import api_not_found
from flowboard.views import healthz

admin.site.site_header = "Flowboard operations"
admin.site.site_title = "Flowboard"
admin.site.index_title = "Boards, readiness and flow"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("api.urls")),
    path("api/v1/", include("metrics.urls")),
    re_path(r"^api/", api_not_found),  # last under /api/: JSON 404, never the HTML page
    path("", include("web.urls")),
]

handler404 = "flowboard.api.not_found"
handler500 = "flowboard.api.server_error"
