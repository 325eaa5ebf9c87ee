"""The audit trail: the log's hash chain (canonical), checking it (verify), and
recording its heads outside the database (digest). docs/audit.md is the spec."""
