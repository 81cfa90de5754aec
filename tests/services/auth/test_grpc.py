"""AuthService through a real gRPC channel: statuses, metadata, public keys."""

from __future__ import annotations

import json

import grpc
import jwt
import pytest
from stackline.auth.v1 import auth_pb2, auth_pb2_grpc
from stackline.common.v1 import common_pb2

from stackline_infra.errors import CODE_KEY, FIELD_KEY
from tests.conftest import Stack


@pytest.fixture
async def auth(stack: Stack) -> auth_pb2_grpc.AuthServiceStub:
    channel = grpc.aio.insecure_channel(stack.targets["auth"])
    return auth_pb2_grpc.AuthServiceStub(channel)


async def test_tokens_verify_with_the_published_keys(auth: auth_pb2_grpc.AuthServiceStub) -> None:
    signed_in = (
        await auth.DevLogin(
            auth_pb2.DevLoginRequest(login="grpc-user", source_ip="127.0.0.1"), timeout=5
        )
    ).sign_in
    keys = await auth.GetPublicKeys(auth_pb2.GetPublicKeysRequest(), timeout=5)
    [jwk] = json.loads(keys.jwks_json)["keys"]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    claims = jwt.decode(
        signed_in.access_token.token,
        key=jwt.PyJWK(jwk),
        algorithms=["EdDSA"],
        audience=keys.audience,
        issuer=keys.issuer,
    )
    assert claims["sub"] == signed_in.user.id


async def test_errors_arrive_as_status_codes_with_the_field(
    auth: auth_pb2_grpc.AuthServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await auth.DevLogin(auth_pb2.DevLoginRequest(login="bad login"), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailing = dict(refused.value.trailing_metadata() or ())
    assert trailing[CODE_KEY] == "invalid_argument"
    assert trailing[FIELD_KEY] == "login"

    nobody = common_pb2.Actor(user_id="01a21444-e0d3-7766-a35c-6caf537ea19d")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await auth.GetUser(auth_pb2.GetUserRequest(actor=nobody), timeout=5)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND

    # Like every service's: a call made for no user is refused before anything is looked up.
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await auth.GetUser(auth_pb2.GetUserRequest(), timeout=5)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED

    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await auth.ResolveIngestKey(auth_pb2.ResolveIngestKeyRequest(key="slk_x"), timeout=5)
    assert unknown.value.code() == grpc.StatusCode.UNAUTHENTICATED
