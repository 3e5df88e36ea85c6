"""State of the stand-in APIs: stores, their orders and products, what they received."""

from django.db import models


class SandboxStore(models.Model):
    """One remote account: an Etsy shop, a Shopify store, a carrier account, a gateway…"""

    kind = models.CharField(max_length=20)
    key = models.CharField(max_length=100, help_text="shop id / store name / account id used in paths")
    credentials = models.JSONField(default=dict, blank=True)
    faults = models.JSONField(
        default=list,
        blank=True,
        help_text='Queued faults, used one request at a time: [{"status": 429, "retry_after": 1, "times": 2}, '
        '{"status": 500}, {"truncate": true}, {"malformed": true}, {"delay": 3}]',
    )
    settings = models.JSONField(default=dict, blank=True)
    counter = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="uniq_sandbox_store")]

    def __str__(self):
        return f"{self.kind}:{self.key}"

    def next_id(self) -> int:
        SandboxStore.objects.filter(pk=self.pk).update(counter=models.F("counter") + 1)
        self.refresh_from_db(fields=["counter"])
        return self.counter


class SandboxOrder(models.Model):
    store = models.ForeignKey(SandboxStore, on_delete=models.CASCADE, related_name="orders")
    external_id = models.CharField(max_length=100)
    data = models.JSONField()
    status = models.CharField(max_length=50, blank=True)
    created_ts = models.BigIntegerField(db_index=True)
    updated_ts = models.BigIntegerField(db_index=True)

    class Meta:
        ordering = ["created_ts", "id"]
        constraints = [models.UniqueConstraint(fields=["store", "external_id"], name="uniq_sandbox_order")]

    def __str__(self):
        return f"{self.external_id} ({self.status})"


class SandboxProduct(models.Model):
    store = models.ForeignKey(SandboxStore, on_delete=models.CASCADE, related_name="products")
    external_id = models.CharField(max_length=100)
    data = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "external_id"], name="uniq_sandbox_product")]

    def __str__(self):
        return self.external_id


class SandboxRequest(models.Model):
    """Every write the stand-in received, so tests and staff can see what the remote side saw."""

    store = models.ForeignKey(SandboxStore, null=True, on_delete=models.CASCADE, related_name="requests")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.TextField(blank=True)
    parsed = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.method} {self.path}"
