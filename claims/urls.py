from django.urls import path

from claims import views

app_name = "claims"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("claims/", views.claim_list, name="claim_list"),
    path("claims/export.csv", views.claim_export, name="claim_export"),
    path("claims/<int:pk>/", views.claim_detail, name="claim_detail"),
    path("claims/new/", views.claim_create, name="claim_create"),
    path("claims/<int:pk>/edit/", views.claim_update, name="claim_update"),
    path("claims/similar/", views.claim_similar, name="claim_similar"),
    path("claims/lookup/", views.claim_lookup, name="claim_lookup"),
]
