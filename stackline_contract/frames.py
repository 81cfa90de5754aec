"""The frames stored in `events.frames` and `events.causes`: IngestService writes them,
IncidentsService reads them. Typed once here, as a proto message would be.

Keys marked NotRequired are absent where they do not apply; events stored by an
earlier release may lack `abs_path`, so readers treat it as optional too.
"""

from typing import NotRequired, TypedDict


class MinifiedJSON(TypedDict):
    """Where a frame was in the bundle before its source map moved it."""

    abs_path: str
    line: int | None
    column: int | None
    function: str


class EvalOriginJSON(TypedDict):
    """Where code made at run time was made; `file` is its repository path, if any."""

    file: str | None
    line: int | None
    column: int | None
    abs_path: str


class FrameJSON(TypedDict):
    # The repository path, or None when the frame is in no file of the repository.
    file: str | None
    line: int | None
    column: int | None
    function: str
    in_app: bool
    abs_path: NotRequired[str]
    eval_origin: NotRequired[EvalOriginJSON]
    minified: NotRequired[MinifiedJSON]


class CauseJSON(TypedDict):
    """An error printed inside the thrown one: a cause, a context or a sub-error."""

    type: str
    message: str
    relation: str
    # Index in the event's causes of the error this one belongs to; None for the thrown one.
    parent: int | None
    frames: list[FrameJSON]
