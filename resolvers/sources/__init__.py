"""Per-vendor adapters: turn each client's models into discovery and normalized `UsageMetrics`.

The only place above `clients/` that knows which vendor measures what.
"""
