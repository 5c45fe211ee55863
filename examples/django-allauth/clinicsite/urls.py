"""URLs: allauth under /accounts/, Django admin under /admin/ (behind allauth's sign-in), home."""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

# allauth's documented fix (docs/common/admin.rst): without it /admin/login/ takes a password
# alone, with no second factor and no rate limit.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "MyDentalPractice: Settings"

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
]
