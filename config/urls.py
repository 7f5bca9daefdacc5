from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.views import healthz

admin.site.site_header = "Claim tracker administration"
admin.site.site_title = "Claim tracker admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # For load balancers and the compose file's health check: no login.
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("config.api_urls")),
    path("profile/", include("analysts.urls")),
    path("", include("claims.urls")),
    path("sources/", include("sources.urls")),
]

# Refusals of a change are written to the audit trail; see config.views.
handler403 = "config.views.permission_denied"
