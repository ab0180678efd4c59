from django.db import models


class RateLimitCounter(models.Model):
    """How often one key (a network, an e-mail address) did one thing in one time window.

    Written only by ticketflower.core.ratelimit. Kept in PostgreSQL so that every web process
    counts together. Not company-owned: the keys are seen before anyone logs in, and they are
    stored hashed.
    """

    scope = models.CharField(max_length=50)
    key_hash = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key_hash", "window_start"], name="core_ratelimit_one_counter_per_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key_hash[:8]}… {self.hits} since {self.window_start:%H:%M:%S}"
