"""Metrics API routes, mounted at ``/api/v1/`` by ``flowboard.urls``."""

from django.urls import path

from metrics import api

app_name = "metrics"

board = "boards/<slug:slug>/metrics/"

urlpatterns = [
    path(board, api.SummaryAPI.as_view(), name="summary"),
    path(f"{board}cycle-times/", api.CycleTimesAPI.as_view(), name="cycle-times"),
    path(f"{board}cfd/", api.CfdAPI.as_view(), name="cfd"),
    path(f"{board}throughput/", api.ThroughputAPI.as_view(), name="throughput"),
    path(f"{board}aging/", api.AgingAPI.as_view(), name="aging"),
    path(f"{board}time-in-column/", api.TimeInColumnAPI.as_view(), name="time-in-column"),
    path(f"{board}readiness/", api.ReadinessAPI.as_view(), name="readiness"),
    path(f"{board}forecast/", api.ForecastAPI.as_view(), name="forecast"),
]
