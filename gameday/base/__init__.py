"""The base layer every package shares: errors, experiment models, the fault ledger and its fault catalogue,
provenance and the settings types. It imports no other package of the project (import-linter keeps it so)."""
