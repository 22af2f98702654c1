"""How long a saga waits and how often it tries again: settings that come from outside, never read here."""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SagaPolicy:
    """A command without an answer is sent again with exponential backoff and jitter, `max_attempts` in all."""

    payment_timeout_s: float = 30.0
    reply_timeout_s: float = 5.0  # the first wait for an answer; each resend waits twice as long
    max_backoff_s: float = 120.0
    max_attempts: int = 5

    def retry_at(self, sent_at: datetime, attempt: int, jitter: float) -> datetime:
        """When to resend after `attempt`: jitter in [0, 1) spreads resends over the upper half of the wait,
        so that instances that failed together do not all come back together."""
        wait = min(self.max_backoff_s, self.reply_timeout_s * 2 ** (attempt - 1))
        return sent_at + timedelta(seconds=wait * (0.5 + jitter / 2))

    def payment_due(self, at: datetime) -> datetime:
        return at + timedelta(seconds=self.payment_timeout_s)
