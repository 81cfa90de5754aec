"""What an ingest event may hold, wherever it enters: the gateway's JSON or a service's proto."""

# Deeper cause chains are cut: nobody reads the tenth cause, and protobuf refuses messages
# nested past its recursion limit. The SDKs follow at most this many.
MAX_CAUSE_DEPTH = 5


def without_nul(text: str) -> str:
    """NUL replaced by U+FFFD: valid JSON may spell it `\\u0000`, and PostgreSQL stores no NUL
    in text or JSONB. The rest of the text is kept."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text
