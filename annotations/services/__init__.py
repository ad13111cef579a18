"""Services write: every state change lives here, in one transaction with its audit event."""
