from django.db import models


class Heartbeat(models.Model):
    """When a recurring part of Shipdesk last ran, and where: the task cluster's every-minute
    dispatcher writes "dispatcher" here, and /healthz and the admin index read it."""

    name = models.CharField(primary_key=True, max_length=50)
    at = models.DateTimeField()
    where = models.CharField(max_length=200, blank=True, help_text="host and process id")

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
