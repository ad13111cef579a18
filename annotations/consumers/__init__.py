"""WebSocket consumers: thin — authenticate, validate the frame, call a service, relay."""
