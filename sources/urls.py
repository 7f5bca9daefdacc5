from django.urls import path

from sources import lookups, views

app_name = "sources"
urlpatterns = [
    path("", views.source_list, name="source_list"),
    path("new/", views.source_create, name="source_create"),
    path("lookup/", lookups.source_lookup, name="source_lookup"),
    path("<int:pk>/", views.source_detail, name="source_detail"),
    path("<int:pk>/edit/", views.source_update, name="source_update"),
    path("<int:pk>/grade/", views.source_grade, name="source_grade"),
    path("reliability/", views.reliability_report, name="reliability_report"),
    path(
        "reliability/export.csv",
        views.reliability_report_export,
        name="reliability_report_export",
    ),
    path(
        "reliability/print/",
        views.reliability_report_print,
        name="reliability_report_print",
    ),
    path("documents/", views.document_list, name="document_list"),
    path("documents/new/", views.document_create, name="document_create"),
    path("documents/lookup/", lookups.document_lookup, name="document_lookup"),
    path("documents/<int:pk>/", views.document_detail, name="document_detail"),
    path("documents/<int:pk>/edit/", views.document_update, name="document_update"),
]
