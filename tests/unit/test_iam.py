"""Every function runs with exactly what its role in template.yaml grants, in the tests as in the local
stack: a call outside the role fails as AWS fails it, so a missing permission shows here and not as a
500 after a deploy."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hubnox.config import get_app_config
from hubnox.store.crypto import TokenCipherError
from hubnox.store.table import TABLE_SCHEMA
from sandbox.aws import Intrinsics
from sandbox.gateway import ACCOUNT_ID, REGION, LocalFunction, functions_from_template, read_template
from sandbox.iam import Guard, Request, enforcing, role_policies
from tests.support.aws import TABLE
from tests.support.functions import SAMPLE_PORTAL, World, roles_on_moto, sample_event, world_on_moto
from tests.unit.test_replay import failed_run, link, open_link, press_replay


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        world.install()
        world.connect_fortnox()
        yield world


def refused(call: Any) -> str:
    """The error code AWS would answer the call with (it must be refused)."""
    with pytest.raises(ClientError) as refusal:
        call()
    return str(refusal.value.response["Error"]["Code"])


def key_arn(world: World) -> str:
    return str(world.container.kms.describe_key(KeyId=world.container.config.kms_key_id)["KeyMetadata"]["Arn"])


# -- Replay, which has no use of the tokens key ------------------------------------------------------


def test_the_replay_confirmation_page_opens_under_the_replay_role_which_cannot_open_tokens(world):
    decrypt = Request("kms:Decrypt", (key_arn(world),), {"kms:EncryptionContext:portal_id": SAMPLE_PORTAL})
    assert world.roles["replay"].refusal(decrypt) is not None

    page = open_link(world, *link(world, failed_run(world).run_id))

    assert page["statusCode"] == 200
    assert "Replay this run?" in page["body"]


def test_the_replay_role_cannot_open_a_stored_token(world):
    with enforcing(world.roles["replay"], [world.container.kms]), pytest.raises(TokenCipherError) as failure:
        world.container.connections.get_hubspot(SAMPLE_PORTAL)
    assert isinstance(failure.value.__cause__, ClientError)
    assert failure.value.__cause__.response["Error"]["Code"] == "AccessDeniedException"


# -- calls outside a role ------------------------------------------------------------------------------


def test_no_function_may_scan_the_table_or_write_it_in_batches(world):
    dynamodb = world.container.dynamodb
    for function in world.roles:
        with enforcing(world.roles[function], [dynamodb]):
            assert refused(lambda: dynamodb.scan(TableName=TABLE)) == "AccessDeniedException", function
            batch = {TABLE: [{"DeleteRequest": {"Key": {"pk": {"S": "x"}, "sk": {"S": "y"}}}}]}
            assert refused(lambda b=batch: dynamodb.batch_write_item(RequestItems=b)) == "AccessDeniedException"


def test_the_card_reads_and_writes_items_but_cannot_scan_or_reach_another_table(world):
    dynamodb = world.container.dynamodb
    with enforcing(world.roles["crm_card"], [dynamodb]):
        dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
        assert refused(lambda: dynamodb.scan(TableName=TABLE)) == "AccessDeniedException"
        assert refused(lambda: dynamodb.get_item(TableName="another-table", Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
                       ) == "AccessDeniedException"


def test_the_worker_reads_and_writes_the_portal_cache_under_its_role(world):
    """The cached products and reference contacts take a BatchGetItem and a PutItem each."""
    cache = world.container.portal_cache
    with enforcing(world.roles["worker"], [world.container.dynamodb]):
        cache.put(SAMPLE_PORTAL, "contacts#51", {"id": "51", "properties": {"email": "anna@acme.example"}},
                  seconds=900)
        assert cache.get_many(SAMPLE_PORTAL, ["contacts#51", "products#1"]) == {
            "contacts#51": {"id": "51", "properties": {"email": "anna@acme.example"}}}


def test_a_transaction_is_authorised_part_by_part_as_dynamodb_does(world):
    dynamodb = world.container.dynamodb
    key = {"pk": {"S": "x"}, "sk": {"S": "y"}}
    check_and_put = [{"ConditionCheck": {"TableName": TABLE, "Key": key,
                                         "ConditionExpression": "attribute_not_exists(pk)"}},
                     {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "x2"}, "sk": {"S": "y"}}}}]
    with enforcing(world.roles["settings"], [dynamodb]):
        dynamodb.transact_write_items(TransactItems=check_and_put)
        into_another = [{"Put": {"TableName": "another-table", "Item": key}}]
        assert refused(lambda: dynamodb.transact_write_items(TransactItems=into_another)) == "AccessDeniedException"


def test_the_worker_may_send_follow_ups_but_not_empty_the_queue_and_sqs_says_so_in_its_own_words(world):
    sqs = world.container.sqs
    with enforcing(world.roles["worker"], [sqs]):
        sqs.send_message(QueueUrl=world.queue_url, MessageBody="{}", DelaySeconds=30)
        assert refused(lambda: sqs.purge_queue(QueueUrl=world.queue_url)) == "AccessDenied"


def test_the_tokens_key_opens_and_seals_only_for_a_portal(world):
    kms = world.container.kms
    key = world.container.config.kms_key_id
    with enforcing(world.roles["worker"], [kms]):
        sealed = kms.encrypt(KeyId=key, Plaintext=b"token", EncryptionContext={"portal_id": SAMPLE_PORTAL})
        kms.decrypt(KeyId=key, CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={"portal_id": SAMPLE_PORTAL})
        assert refused(lambda: kms.encrypt(KeyId=key, Plaintext=b"token")) == "AccessDeniedException"
        assert refused(lambda: kms.decrypt(KeyId=key, CiphertextBlob=sealed["CiphertextBlob"])
                       ) == "AccessDeniedException"
        assert refused(lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256",
                                                     EncryptionContext={"portal_id": SAMPLE_PORTAL})
                       ) == "AccessDeniedException"


def test_the_key_policy_refuses_use_without_a_portal_whatever_a_role_allows():
    template = read_template()
    roles = role_policies(template, local_intrinsics(template).resolve)
    key = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/local-key"
    for function, role in roles.items():
        assert role.refusal(Request("kms:Decrypt", (key,), {})) is not None, function


# -- the roles are the template's ----------------------------------------------------------------------


def local_intrinsics(template: dict[str, Any]) -> Intrinsics:
    return Intrinsics(template, resources={
        "Table": {"Ref": TABLE, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{TABLE}"},
        "JobsQueue": {"Ref": "https://queue/hubnox-jobs", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:hubnox-jobs",
                      "QueueName": "hubnox-jobs"},
        "JobsDLQ": {"Ref": "https://queue/hubnox-jobs-dlq", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:hubnox-jobs-dlq",
                    "QueueName": "hubnox-jobs-dlq"},
        "PollQueue": {"Ref": "https://queue/hubnox-polls", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:hubnox-polls",
                      "QueueName": "hubnox-polls"},
        "PollDLQ": {"Ref": "https://queue/hubnox-polls-dlq", "QueueName": "hubnox-polls-dlq",
                    "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:hubnox-polls-dlq"},
        "TokensKey": {"Ref": "local-key", "Arn": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/local-key"},
    })


def test_taking_a_grant_out_of_template_yaml_takes_it_from_the_function(world):
    template = copy.deepcopy(read_template())
    replay = template["Resources"]["ReplayFunction"]["Properties"]
    replay["Policies"] = [p for p in replay["Policies"] if "SQSSendMessagePolicy" not in p]
    world.roles = roles_on_moto(TABLE, world.queue_url, key_arn(world)) | {
        "replay": role_policies(template, world_intrinsics(world, template).resolve)["replay"]}

    answer = press_replay(world, *link(world, failed_run(world).run_id))

    assert answer["statusCode"] >= 500
    assert world.jobs() == []


def world_intrinsics(world: World, template: dict[str, Any]) -> Intrinsics:
    arn = key_arn(world)
    queue = world.queue_url.rsplit("/", 1)[-1]
    return Intrinsics(template, resources={
        "Table": {"Ref": TABLE, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{TABLE}"},
        "JobsQueue": {"Ref": world.queue_url, "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}",
                      "QueueName": queue},
        "JobsDLQ": {"Ref": f"{world.queue_url}-dlq", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}-dlq",
                    "QueueName": f"{queue}-dlq"},
        "PollQueue": {"Ref": f"{world.queue_url}-polls", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}-polls",
                      "QueueName": f"{queue}-polls"},
        "PollDLQ": {"Ref": f"{world.queue_url}-polls-dlq", "QueueName": f"{queue}-polls-dlq",
                    "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}-polls-dlq"},
        "TokensKey": {"Ref": arn.rsplit("/", 1)[-1], "Arn": arn},
    })


def test_with_its_grants_the_same_replay_is_queued(world):
    answer = press_replay(world, *link(world, failed_run(world).run_id))
    assert answer["statusCode"] == 200
    assert len(world.jobs()) == 1


def test_the_local_stack_holds_each_loaded_function_to_its_role(world, monkeypatch):
    """LocalFunction hands the guard to the function's own container, for every client it builds."""
    for name, value in {"TABLE_NAME": TABLE, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SECRETS_NAME", raising=False)
    function = LocalFunction(functions_from_template(read_template())["replay"])
    function.watch_aws_clients(Guard(world.roles["replay"]).attach)
    function.invoke(sample_event("replay_confirm.json"))  # the first invocation loads it, as a cold start does
    assert function.module is not None
    container = function.container()

    container.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert refused(lambda: container.dynamodb.scan(TableName=TABLE)) == "AccessDeniedException"
    assert refused(lambda: container.kms.decrypt(CiphertextBlob=b"x" * 32)) == "AccessDeniedException"
    get_app_config.cache_clear()


def test_the_functions_may_query_the_tables_indexes_and_nothing_more_of_them():
    """The sync log queries the run indexes: the table policy allows Query on them, not writes or scans."""
    assert TABLE_SCHEMA["GlobalSecondaryIndexes"]
    statements = read_template()["Resources"]["UseTableItemsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    on_indexes = [s for s in statements if "index" in str(s["Resource"])]
    assert [s["Action"] for s in on_indexes] == [["dynamodb:Query"]]
