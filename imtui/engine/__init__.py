"""Sync jobs, claims of due work, the scheduler and the one clock."""
