"""Storage: tables, engine set-up, transactions and migrations."""
