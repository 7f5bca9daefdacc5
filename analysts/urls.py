from django.urls import path

from analysts import views

app_name = "analysts"
urlpatterns = [
    path("", views.profile, name="profile"),
    path("tokens/", views.apitoken_create, name="apitoken_create"),
    path("tokens/<int:pk>/revoke/", views.apitoken_revoke, name="apitoken_revoke"),
]
