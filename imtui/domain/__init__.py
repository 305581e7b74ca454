"""Pure rules: failure classes, retry policy, alert lifecycle, order checks. No I/O here."""
