# ruff: noqa: E501 - one digest a line: the names of some cases leave it no room
"""The grouping fingerprints of real stacks, pinned: stored incidents are found again by them.

Every stack the corpus programs print (Node, CPython, Chromium, gjs, jsc) goes through ingest's
whole path, parse, placement and grouping, as an event of that runtime would, and is
fingerprinted under every grouping version. A change that moves any of these digests would split
every stored incident made from such a stack: a rule that must change makes a new grouping
version instead, and these stay as they are.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from stackline.ingest.v1 import ingest_pb2

from services.ingest.events import prepare
from stackline_infra.db.types import utcnow
from tests.services.ingest.stacks.runs import BrowserRun, NodeRun, PythonRun, ShellRun

Versions = dict[int, str]


def fingerprinted(stack: str, platform: str, deploy_root: Path | None) -> Versions:
    event = ingest_pb2.Event(
        project_id=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        platform=platform,
        deploy_root=str(deploy_root) if deploy_root else "",
        exception=ingest_pb2.ExceptionInfo(type="Error", message="the same message", stack=stack),
    )
    return prepare(event, utcnow()).fingerprints


def node_stacks(run: NodeRun) -> dict[str, str]:
    return {
        **{f"node {name}": stack for name, stack in run.stacks.items()},
        **{f"node inspected {name}": text for name, text in run.inspected.items()},
        **{f"node stack {name}": stack for name, stack in run.nested_stacks.items()},
        **{f"node uncaught {name}": text for name, text in run.uncaught.items()},
        **{f"node call style {name}": stack for name, stack in run.call_styles.items()},
    }


# Grouping version 1, computed by the engine as it was when version 1 was the only one.
GOLDEN_V1: dict[str, str] = {
    "chromium asyncModule": "a43fe672fe114c7286202437c0dba19b8866999250788347c182e9d2f80f384f",
    "chromium calls": "272fecd5376052b650ae18df862ca683f6dac9be6ce9569d9dd1f2921613c659",
    "chromium cause": "6b49131598a13694291b30c75a341fd492a46fd1eea2c191d8ad726b55b85243",
    "chromium causeOfCause": "ec3969b8787bce4f2a7671dac59e822a8b9575360f5c37106cdf59f5c4340bf0",
    "chromium evalCode": "a85572a5df6a513dc9fe3246d597b1aae9c5dadf335b45bc8ef5cb8850cb74be",
    "chromium evalLater": "8f1882816f14beb16f9a917f200d727d3f89506b26a7e50099df48255e344e80",
    "chromium uncaught from a string": "ae700d92d753409d25cda71589200258af4df18bbeeb0e109a3142b83dc8f366",
    "chromium uncaught plain": "edfc370c63aa972bb8befec7f5f49665ac4047f474a41801a1c9714a12568e8f",
    "gjs asyncChain": "686ae24d9b7da3241e4119163dc898dd657aad982813d288cca42da331e5056a",
    "gjs calls": "b100aaae60bb36c1026a278f6d5fc0f5c13d50a6a77f5e7cf74eaf7004edc6d0",
    "gjs computedName": "b2b481e3274885497fbe8bf6356149010d79385ddaa2f34a49c19ebedfaf57db",
    "gjs evalCode": "e9044247cde2075c0a523d9a5216190b99d96883f4f9b282150862abc4673012",
    "gjs evalLater": "12de5c9e9f48976488d20fa4b2be16c0369cbd08c5505b4cc7418bc343459fc5",
    "gjs generatedLater": "90b27bb168a020d837c70631c77425a87ca55a4604ab1b7a90b07e73889e6b57",
    "gjs getter": "c8226bb2df1a289d73add2fa352ddc581d40d15c459667122fc601ca9fde48c0",
    "gjs module": "f429048dbcbf7a3729faf552913265dea068fc0d385ce17ec26d4364874281d2",
    "gjs newFunction": "69e5ee689441e3b538c28733037a3ae3be6190f82e9cc60121ec14cbab616b42",
    "jsc calls": "9504b03c99f9ee7b877e5e4e63237bcc087a93d6b2472077ae589cd843058bdc",
    "jsc evalCode": "e785e8c0244c7afe55cff2831d03b0b8da64ee1ced51b1371541deba54acbcf4",
    "jsc evalLater": "d9633a1e3852fc9e9d6c342d0d8eba761024f25ceb127cdb8a25c2597bc5fca2",
    "jsc globalCode": "a4ad18780333681b7c0e3a4781f2faed56668d2e7dc14395f2b6dc61666da011",
    "jsc jsonParse": "8d0d9e83fe625d563c706d0f533a0d41776821c909bc23854361e1adc9210ae3",
    "jsc module": "5b4e35a194470bd1cf3363b8ff75b9ac28787f246aa383af444713a2b2082a17",
    "node asyncChain": "cdfe6d536c89da653cd38bce3bac0e519b10fad2bfb513822c0fa4f337c3c0eb",
    "node call style alias": "103295b771f34a1fb14f44110ac254893d5ae7584fd28f7a94ab0e203df167b5",
    "node call style bootAwaited": "f5ae2ce36cb7d379aae536398c966895be972fa2b0b0c021f5c5811aedce6fe4",
    "node call style bootCached": "64d9efb95fa7f4c252b4c96cd59031be12433303faaa8bffa0f7f6956ceea57c",
    "node call style method": "46c54bb13efb8c6eb0898ba18c50057f0cc3da8bc50859f5f40364046a2eb1be",
    "node call style plain": "ae20f1bec3e6377b221fec3d5fed5fd6da710caf47a12b7e3ed0b2b35635416d",
    "node calls": "a48edb209de15ca3740960f183e575debce5361bf1417dce91d885a6b70a2feb",
    "node esmAsync": "8125567c9fd31af547684b7653e7e91c0132160618e8dd62d964f7cf0212bb58",
    "node esmCall": "5fb491e77bf401ce3a6693742f15c53273d775b02e40a6e47c2c569fdc0a70f7",
    "node evalCode": "f0feb10d8d3db7e4b58d492460bdac7428c0a5fda23859a11917760b3d5f6348",
    "node frameLikeMessage": "7f14238da77266830cd39dbd4e6ce36a0e004e59ab7209599a2e702172025327",
    "node inspected aggregate": "a6816d9c49464cf52e40f0de06f155d81b56bcb80bbe68814ad6582a931a0a77",
    "node inspected causeChain": "1a1f0eefea02ed6d0b0d953ab2945be81831ad57e1f705925c63c770ce6ef8c3",
    "node inspected evalLater": "3c6a10c2a96b132b396793f6c49263fc7b9477f44ce243d3e3bea3521f1724f9",
    "node inspected nonErrorCause": "921913851d7d379777acb3d2d77dd297835cce7f4b8f6d4572ff6b2053054ede",
    "node inspected ownProperties": "9f9456f7df2239016dc6c032b534a6bb600ead16a52f5b8c7cb7b3d6973d4303",
    "node inspected template": "b3c435a9d8ede7a763b4f13269aa0a73e74c2c1a4b015936741fa7b32c31ad87",
    "node jsonParse": "acf375fcd417add323cfc0f1733cac7fa89f4fe5775865490ce6dd2dcdbaa60d",
    "node methodAlias": "8c9274103a6762c249fc1ad555a15a30f2582d5bc8c5c544caa155cc4538b11e",
    "node missingFile": "8802df414a555bb094bc1a55ed1ac70d8f3f1f750c4a4031de5593e06ef5b9d5",
    "node newFunction": "de73c5522f225a51217beb921e767fcf686fcce045c29b29f5af4d38971fdf49",
    "node nodeModules": "22ea1632effc7a5bdef196e5480207dfa57e7f0146f2896f43d28919830956bb",
    "node promiseExecutor": "45bedd9dc3add1b72655977e650ecd7630719cc22cd107a4800a87d5fd67f69e",
    "node requireBroken": "e825b19cb5145b798d2123218967825bfc1537f504804613482aa4efd4afa693",
    "node stack aggregate": "7fba53db4685fa58e7091f66ab8b79f07595dc1fe9e07a34ed69a0e63c7d56bf",
    "node stack causeChain": "993ab9a5163ca88cca81849941b56a7f6502e5190cdee1a78ea0718b4ecabeb5",
    "node stack evalLater": "3c6a10c2a96b132b396793f6c49263fc7b9477f44ce243d3e3bea3521f1724f9",
    "node stack nonErrorCause": "921913851d7d379777acb3d2d77dd297835cce7f4b8f6d4572ff6b2053054ede",
    "node stack ownProperties": "9f9456f7df2239016dc6c032b534a6bb600ead16a52f5b8c7cb7b3d6973d4303",
    "node stack template": "b3c435a9d8ede7a763b4f13269aa0a73e74c2c1a4b015936741fa7b32c31ad87",
    "node uncaught main.mjs": "740267841a2baa080249f0566494053b94d639537d42a2bba2583a7b21c78787",
    "node uncaught uncaught-aggregate.mjs": "86a60d82ea926b30e02be220c76f5c560429ed2317ba4595c9b539bf5b06fced",
    "node uncaught uncaught-cause.cjs": "d2985ac17637832807a1916f6b7cccf09c7fe53df08a76c572e97407234ca8bf",
    "node unicodePath": "84d836593fa58a57669897094858ff136ff6ac34e421644750c80d627d673fd8",
    "python carets": "c567c0b87c13d556ec0fbef84acfb467e790de626dc3fd1ebefbb98a2ebb6068",
    "python chained": "a11e61f662e2eababf13798d1bb3f7c41141d66afe878b49bd9c075855229cdd",
    "python embedded": "43f767cb9a83616484f8b7d589bc1b9b1e212b5503a3f9721dc6ecb907336ba5",
    "python generated": "800beebb1194157e5255e826774faf6b5dd85d89162b791d4e36a379a8c0c96b",
    "python group": "9872b0037c4e0fa0a4bc4a5fd8c1a8d027c8b4fbbf2d610001b72a3d20d4b8e6",
    "python implicit": "c2d8593d037cdc16c0c5e27777a2b63551b6dbd57fbdb5e801f5c1de6d050e64",
    "python lambda": "182570d2cb992605b41b17429819cedb52670cccd02e52e53d90e6c96686b17d",
    "python nested_group": "1658b3a18330f19f0056b66b6f4708eb70893a92ebf5ea1d48834da0b5bb2998",
    "python plain": "266f6eb1a09179311ffd94d8e1988cb791447d9dedba83cc830fa36277eaeb17",
    "python recursion": "0f3885a3580867fe0b7d7401fa863ab13b3a44cce760a56ea98e2948dd9c30b4",
    "python syntax": "3a45ec47dd00bb5ee499766d0353f27f158abe615acc5625e685d3c523a473da",
    "python uncaught": "7f0fc6bb453bd44faf706eec4e6e6da3fc4a3d8631e6befe372a272bab29868a",
}


# Grouping version 2, the version new incidents are made under.
GOLDEN_V2: dict[str, str] = {
    "chromium asyncModule": "17330ea2bcd6911155d0f3ad54542ac0157dad0d6831699b3a15bda9a08f3da9",
    "chromium calls": "4d67abdc83d0620b087036c35546b3dfca760b5892e768e256f778ef99863005",
    "chromium cause": "6b49131598a13694291b30c75a341fd492a46fd1eea2c191d8ad726b55b85243",
    "chromium causeOfCause": "ec3969b8787bce4f2a7671dac59e822a8b9575360f5c37106cdf59f5c4340bf0",
    "chromium evalCode": "bf0130d296141df93868bd532469c032a3fb9ea728b67e4a327329accdaded9c",
    "chromium evalLater": "8ff2b44c75240bc72185ceaf5838d27af8dcc743a0dbb9301ad7bbe730852024",
    "chromium uncaught from a string": "ae700d92d753409d25cda71589200258af4df18bbeeb0e109a3142b83dc8f366",
    "chromium uncaught plain": "edfc370c63aa972bb8befec7f5f49665ac4047f474a41801a1c9714a12568e8f",
    "gjs asyncChain": "686ae24d9b7da3241e4119163dc898dd657aad982813d288cca42da331e5056a",
    "gjs calls": "b100aaae60bb36c1026a278f6d5fc0f5c13d50a6a77f5e7cf74eaf7004edc6d0",
    "gjs computedName": "b2b481e3274885497fbe8bf6356149010d79385ddaa2f34a49c19ebedfaf57db",
    "gjs evalCode": "d49026e85d0b71b2939129d0d5fb3a6a5d5f0aff3e8ca03b2200a989be69dcfb",
    "gjs evalLater": "57e777e38d07e1b9953ca394b39ddf0624c66db01369e701d5a8b215ca0b1f83",
    "gjs generatedLater": "8db67ca91e5dcd0d2a7b4372e8b0b469c8353c6d362ada7a6bae9ed2cafa3eec",
    "gjs getter": "c8226bb2df1a289d73add2fa352ddc581d40d15c459667122fc601ca9fde48c0",
    "gjs module": "f429048dbcbf7a3729faf552913265dea068fc0d385ce17ec26d4364874281d2",
    "gjs newFunction": "c3edd3d8ae5873a217d9bb2f2074c9bb1f95f1810991d10ae676fb0b9b1bbe02",
    "jsc calls": "9504b03c99f9ee7b877e5e4e63237bcc087a93d6b2472077ae589cd843058bdc",
    "jsc evalCode": "e785e8c0244c7afe55cff2831d03b0b8da64ee1ced51b1371541deba54acbcf4",
    "jsc evalLater": "d9633a1e3852fc9e9d6c342d0d8eba761024f25ceb127cdb8a25c2597bc5fca2",
    "jsc globalCode": "a4ad18780333681b7c0e3a4781f2faed56668d2e7dc14395f2b6dc61666da011",
    "jsc jsonParse": "8d0d9e83fe625d563c706d0f533a0d41776821c909bc23854361e1adc9210ae3",
    "jsc module": "5b4e35a194470bd1cf3363b8ff75b9ac28787f246aa383af444713a2b2082a17",
    "node asyncChain": "019fb85163edfe0b1ef416add7db851c1c99393b58b274d3d3b0d9517a94f9b7",
    "node call style alias": "9571af810bea2cc73518515d986ce2df14dee5cb3ea9a1444f179aa5a39650bb",
    "node call style bootAwaited": "6c834c2aaa757823cf603bcd44e84c3c714a843058aad52f5e32a10848f5c5d3",
    "node call style bootCached": "6c834c2aaa757823cf603bcd44e84c3c714a843058aad52f5e32a10848f5c5d3",
    "node call style method": "9571af810bea2cc73518515d986ce2df14dee5cb3ea9a1444f179aa5a39650bb",
    "node call style plain": "9571af810bea2cc73518515d986ce2df14dee5cb3ea9a1444f179aa5a39650bb",
    "node calls": "73b4de86506f8a57901c45f29762cbd92c8cca10a35a611c8dfb679fb7a6853e",
    "node esmAsync": "8125567c9fd31af547684b7653e7e91c0132160618e8dd62d964f7cf0212bb58",
    "node esmCall": "5fb491e77bf401ce3a6693742f15c53273d775b02e40a6e47c2c569fdc0a70f7",
    "node evalCode": "b7d056d1a64d9db40f1bbbf9343907938ad751cb02efdd5d2f69a858772737ce",
    "node frameLikeMessage": "7f14238da77266830cd39dbd4e6ce36a0e004e59ab7209599a2e702172025327",
    "node inspected aggregate": "b06ba04588d2f8ddf2b6527dc607b1ae438d10894ccca71acb4919c7fd9e94b7",
    "node inspected causeChain": "e2077a7e2c02d0fcba4df6d6026f51f39091674755a1b7b798cb9abd3a536630",
    "node inspected evalLater": "60307447b73fbc72b04003bd9efc9628a510aa34485af71f3fd10b3bb0279696",
    "node inspected nonErrorCause": "6be657c086b0e5052a76d97a91d1acb3e428013e0018c04d1e393f943298074c",
    "node inspected ownProperties": "bca8e3afa0c0737ccc396ecf4f792255b5ee2790ae216b7e64c74bd555ee6a33",
    "node inspected template": "364cfedbd8e962b98ad28ac05bf3854c408e95c5034fc347a11791c88ee3d579",
    "node jsonParse": "acf375fcd417add323cfc0f1733cac7fa89f4fe5775865490ce6dd2dcdbaa60d",
    "node methodAlias": "8a6d2c5dbb16e2ce2ab57949a0a28461fb2ba2b1cea1e76ab4fc3280d4a25e60",
    "node missingFile": "8802df414a555bb094bc1a55ed1ac70d8f3f1f750c4a4031de5593e06ef5b9d5",
    "node newFunction": "f468c27d6d78d17d7b4166b94cf2b6f191c8e08dfbc35518871ddc94205a7eb0",
    "node nodeModules": "22ea1632effc7a5bdef196e5480207dfa57e7f0146f2896f43d28919830956bb",
    "node promiseExecutor": "45bedd9dc3add1b72655977e650ecd7630719cc22cd107a4800a87d5fd67f69e",
    "node requireBroken": "3d28bd92088bfa0402780f3aa21053fb26d73d0c553e1f32a1833ae515603003",
    "node stack aggregate": "b06ba04588d2f8ddf2b6527dc607b1ae438d10894ccca71acb4919c7fd9e94b7",
    "node stack causeChain": "e2077a7e2c02d0fcba4df6d6026f51f39091674755a1b7b798cb9abd3a536630",
    "node stack evalLater": "60307447b73fbc72b04003bd9efc9628a510aa34485af71f3fd10b3bb0279696",
    "node stack nonErrorCause": "6be657c086b0e5052a76d97a91d1acb3e428013e0018c04d1e393f943298074c",
    "node stack ownProperties": "bca8e3afa0c0737ccc396ecf4f792255b5ee2790ae216b7e64c74bd555ee6a33",
    "node stack template": "364cfedbd8e962b98ad28ac05bf3854c408e95c5034fc347a11791c88ee3d579",
    "node uncaught main.mjs": "822b4fbf1b283985ba0564041e81ec887262d2f276abc3422f1a6d1ae54f8b96",
    "node uncaught uncaught-aggregate.mjs": "0e9b1a6de291a3014c07c396fd1f9bd2f88179d53522a53d42e108bbb439e7d6",
    "node uncaught uncaught-cause.cjs": "c646f86356752d77506556066826b1089be726fd19ec11af08a031397450a48c",
    "node unicodePath": "806cc922d61cdd91d6da6cca46da05229a53eca9d5b0ae9b8d43402ac27322f4",
    "python carets": "c567c0b87c13d556ec0fbef84acfb467e790de626dc3fd1ebefbb98a2ebb6068",
    "python chained": "a11e61f662e2eababf13798d1bb3f7c41141d66afe878b49bd9c075855229cdd",
    "python embedded": "43f767cb9a83616484f8b7d589bc1b9b1e212b5503a3f9721dc6ecb907336ba5",
    "python generated": "ee160de19221f42c64e0d99a1cf074cbab02c7b5e8ed54a7e6ca03698d96c92e",
    "python group": "9872b0037c4e0fa0a4bc4a5fd8c1a8d027c8b4fbbf2d610001b72a3d20d4b8e6",
    "python implicit": "c2d8593d037cdc16c0c5e27777a2b63551b6dbd57fbdb5e801f5c1de6d050e64",
    "python lambda": "182570d2cb992605b41b17429819cedb52670cccd02e52e53d90e6c96686b17d",
    "python nested_group": "1658b3a18330f19f0056b66b6f4708eb70893a92ebf5ea1d48834da0b5bb2998",
    "python plain": "266f6eb1a09179311ffd94d8e1988cb791447d9dedba83cc830fa36277eaeb17",
    "python recursion": "0f3885a3580867fe0b7d7401fa863ab13b3a44cce760a56ea98e2948dd9c30b4",
    "python syntax": "3a45ec47dd00bb5ee499766d0353f27f158abe615acc5625e685d3c523a473da",
    "python uncaught": "7f0fc6bb453bd44faf706eec4e6e6da3fc4a3d8631e6befe372a272bab29868a",
}


@pytest.fixture(scope="module")
def fingerprints(
    node_run: NodeRun,
    python_run: PythonRun,
    gjs_run: ShellRun,
    jsc_run: ShellRun,
    browser_run: BrowserRun,
) -> dict[str, Versions]:
    found = {
        name: fingerprinted(text, "node", node_run.root)
        for name, text in node_stacks(node_run).items()
    }
    python = {
        **python_run.stacks,
        "uncaught": python_run.uncaught,
        "syntax": python_run.syntax_error,
    }
    for name, text in python.items():
        found[f"python {name}"] = fingerprinted(text, "python", python_run.root)
    for shell, run in (("gjs", gjs_run), ("jsc", jsc_run)):
        for name, text in run.stacks.items():
            found[f"{shell} {name}"] = fingerprinted(text, "browser", run.root)
    # A page's scripts are placed by their path on the site.
    for name, text in browser_run.stacks.items():
        found[f"chromium {name}"] = fingerprinted(text, "browser", None)
    return found


def test_every_stack_of_the_corpus_is_pinned_under_every_version(
    fingerprints: dict[str, Versions],
) -> None:
    assert fingerprints.keys() == GOLDEN_V1.keys() == GOLDEN_V2.keys()
    assert all(versions.keys() == {1, 2} for versions in fingerprints.values())


def test_version_1_fingerprints_never_move(fingerprints: dict[str, Versions]) -> None:
    moved = {name: f[1] for name, f in fingerprints.items() if GOLDEN_V1.get(name) != f[1]}
    assert moved == {}


def test_version_2_fingerprints_never_move(fingerprints: dict[str, Versions]) -> None:
    moved = {name: f[2] for name, f in fingerprints.items() if GOLDEN_V2.get(name) != f[2]}
    assert moved == {}


def test_version_2_groups_one_function_however_it_was_called(
    fingerprints: dict[str, Versions],
) -> None:
    """`Object.parseConfig`, `parseConfig`, `Object.parseConfig [as load]`; `async boot` and
    `boot`: one incident each under version 2, where version 1 made five."""
    styles = {name: f for name, f in fingerprints.items() if name.startswith("node call style")}
    assert len({f[1] for f in styles.values()}) == 5
    called = {styles[f"node call style {name}"][2] for name in ("method", "plain", "alias")}
    booted = {styles[f"node call style {name}"][2] for name in ("bootCached", "bootAwaited")}
    assert len(called) == len(booted) == 1
    assert called != booted


def test_version_2_fingerprints_a_thrown_error_by_its_own_frames(
    fingerprints: dict[str, Versions],
) -> None:
    """Printed with its causes or alone, an error is the same incident under version 2; under
    version 1 its causes' frames decided."""
    for name in ("causeChain", "aggregate", "ownProperties", "nonErrorCause", "template"):
        inspected, alone = (
            fingerprints[f"node inspected {name}"],
            fingerprints[f"node stack {name}"],
        )
        assert inspected[2] == alone[2], name
    assert fingerprints["node inspected causeChain"][1] != fingerprints["node stack causeChain"][1]
