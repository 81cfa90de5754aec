"""The public JSON contract of the gateway, kept apart from the protos on purpose."""
