"""Sign-in and the signed-in user."""

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
    created_at: datetime

    @classmethod
    def from_proto(cls, user: auth_pb2.User) -> UserInfo:
        return cls(
            id=user.id,
            login=user.login,
            name=user.name or None,
            provider=user.provider,
            created_at=from_proto(user.created_at),
        )


class DevLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=39, examples=["octocat"])


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_at: datetime
    user: UserInfo


class Me(BaseModel):
    user: UserInfo
