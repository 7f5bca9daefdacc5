from django.urls import path

from claims import lookups, views

app_name = "claims"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("claims/", views.claim_list, name="claim_list"),
    path("claims/export.csv", views.claim_export, name="claim_export"),
    path("claims/export.json", views.claim_export_json, name="claim_export_json"),
    path("claims/import/", views.claim_import, name="claim_import"),
    path(
        "claims/import/commit/",
        views.claim_import_commit,
        name="claim_import_commit",
    ),
    path("claims/<int:pk>/", views.claim_detail, name="claim_detail"),
    path("claims/new/", views.claim_create, name="claim_create"),
    path("claims/<int:pk>/edit/", views.claim_update, name="claim_update"),
    path("claims/similar/", views.claim_similar, name="claim_similar"),
    path("claims/lookup/", views.claim_lookup, name="claim_lookup"),
    path("places/lookup/", lookups.place_lookup, name="place_lookup"),
    path("claims/<int:pk>/submit/", views.claim_submit, name="claim_submit"),
    path("claims/<int:pk>/rule/", views.claim_rule, name="claim_rule"),
    path("claims/<int:pk>/reopen/", views.claim_reopen, name="claim_reopen"),
    path("claims/<int:pk>/citations/add/", views.citation_add, name="citation_add"),
    path("claims/<int:pk>/relations/add/", views.relation_add, name="relation_add"),
    path("reviews/", views.review_queue, name="review_queue"),
]
