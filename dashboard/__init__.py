"""The web dashboard: a server-rendered app that talks to the gateway's public API only."""
