"""The gateway: Stackline's public HTTPS edge, translating to the services' gRPC."""
