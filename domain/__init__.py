"""The business: aggregates, their past-tense events and rules; pure, no I/O."""
