"""/api/v1/: the REST API's routes (mounted by config/urls.py)."""

urlpatterns: list = []
