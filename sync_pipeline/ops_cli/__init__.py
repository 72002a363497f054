"""Operations commands: `runbook`, `exceptions`, `trace`, `resend`, `audit` (docs/operations.md)."""
