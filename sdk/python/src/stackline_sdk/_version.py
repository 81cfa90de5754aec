"""The SDK's version, read by the build backend and sent with every event."""

VERSION = "0.1.0"
