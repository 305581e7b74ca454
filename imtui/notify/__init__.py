"""Alert email: contacts, outbox, digests, sending."""
