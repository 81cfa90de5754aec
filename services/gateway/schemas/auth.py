"""Sign-in, sessions, and the signed-in user."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from stackline.auth.v1 import auth_pb2

from stackline_infra.timestamps import from_proto


class UserInfo(BaseModel):
    id: str
    login: str
    name: str | None
    provider: Literal["local", "github"]
    avatar_url: str | None
    created_at: datetime

    @classmethod
    def from_proto(cls, user: auth_pb2.User) -> UserInfo:
        return cls(
            id=user.id,
            login=user.login,
            name=user.name or None,
            provider=user.provider,
            avatar_url=user.avatar_url or None,
            created_at=from_proto(user.created_at),
        )


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DevLogin(_Request):
    login: str = Field(min_length=1, max_length=39, examples=["octocat"])


class GitHubToken(_Request):
    github_token: str = Field(
        min_length=1,
        max_length=512,
        # GitHub's tokens are letters, digits and underscores (gho_..., github_pat_...); anything
        # else could not even be sent to GitHub in a header.
        pattern=r"^[A-Za-z0-9_]+$",
        description="A GitHub OAuth token of Stackline's app (or another, where allowed).",
    )


class DevicePoll(_Request):
    device_code: str = Field(min_length=1, max_length=256)


class RefreshRequest(_Request):
    refresh_token: str = Field(min_length=1, max_length=256)


class Session(BaseModel):
    access_token: str = Field(description="A Stackline JWT for `Authorization: Bearer`; one hour.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_at: datetime
    refresh_token: str = Field(
        description="Spend it at POST /api/auth/refresh for the next pair; single use."
    )
    refresh_expires_at: datetime
    user: UserInfo

    @classmethod
    def from_proto(cls, response: auth_pb2.SignIn) -> Session:
        return cls(
            access_token=response.access_token.token,
            expires_at=from_proto(response.access_token.expires_at),
            refresh_token=response.refresh_token,
            refresh_expires_at=from_proto(response.refresh_expires_at),
            user=UserInfo.from_proto(response.user),
        )


class DeviceLogin(BaseModel):
    device_code: str = Field(description="Poll POST /api/auth/device/poll with it.")
    user_code: str = Field(description="What the user types at verification_uri.")
    verification_uri: str
    expires_in: int
    interval: int = Field(description="Seconds between polls.")


class Me(BaseModel):
    user: UserInfo
