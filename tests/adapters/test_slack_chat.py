"""SlackChat and RecordingChat against the fake Slack Web API; the fake's own enforcement of Slack's rules."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.adapters.recording import RecordingChat
from bot.adapters.slack_chat import SlackChat, SlackRefused
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.incidents.ports import Message, NameTaken
from tests.fakes.fixtures import SLACK_TOKEN
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def chat(fake_slack: FakeSlack) -> SlackChat:
    """A SlackChat on the fake, with short retry backoff so failing tests stay fast."""
    return SlackChat(SLACK_TOKEN, base_url=fake_slack.api_url, max_retries=2, backoff=0.01)


@pytest.fixture
def sync_client(fake_slack: FakeSlack) -> WebClient:
    """The sync WebClient (form bodies) on the fake, to check the fake's rules directly."""
    return WebClient(token=SLACK_TOKEN, base_url=fake_slack.api_url)


# -- channels ------------------------------------------------------------------------------------------------


async def test_create_channel_creates_a_public_channel(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A created channel exists in the workspace under its name with the bot as a member."""
    channel = await chat.create_channel("inc-20260101-kafka-lag")

    assert channel.name == "inc-20260101-kafka-lag"
    assert fake_slack.channel("inc-20260101-kafka-lag") is not None
    assert fake_slack.channel(channel.id) is fake_slack.channel("#inc-20260101-kafka-lag")


async def test_create_channel_with_a_taken_name_raises_name_taken(chat: SlackChat) -> None:
    """Creating a channel whose name exists raises NameTaken, so the caller can adopt or rename."""
    with pytest.raises(NameTaken):
        await chat.create_channel("alerts")


async def test_create_channel_with_a_bad_name_is_refused_like_slack(chat: SlackChat) -> None:
    """Upper case, spaces or an over-long name are refused permanently with Slack's error code."""
    with pytest.raises(SlackRefused) as specials:
        await chat.create_channel("Incident 42")
    with pytest.raises(SlackRefused) as too_long:
        await chat.create_channel("x" * 81)

    assert specials.value.error == "invalid_name_specials"
    assert too_long.value.error == "invalid_name_maxlength"
    assert isinstance(specials.value, PermanentDeliveryError)


async def test_find_channel_by_name(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """find_channel returns the existing channel by name or #name, and None for an unknown name."""
    expected = fake_slack.channel("alerts")
    assert expected is not None

    found = await chat.find_channel("#alerts")

    assert found is not None
    assert found.id == expected.id
    assert await chat.find_channel("no-such-channel") is None


async def test_find_channel_pages_through_a_large_workspace(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A channel beyond the first page of conversations.list is still found."""
    for n in range(1200):
        fake_slack.add_channel(f"team-{n:04d}")

    found = await chat.find_channel("team-1199")

    assert found is not None
    assert found.name == "team-1199"
    assert len(fake_slack.calls_to("conversations.list")) == 2


async def test_find_channel_without_groups_read_scope(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A token that may not list private channels still finds public ones."""
    fake_slack.missing_scopes.add("groups:read")

    found = await chat.find_channel("alerts")

    assert found is not None
    assert [c["types"] for c in fake_slack.calls_to("conversations.list")] == [
        "public_channel,private_channel", "public_channel"
    ]


async def test_topic_is_cut_to_250_characters(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A long topic is cut to Slack's 250 characters, ending with an ellipsis, instead of failing."""
    channel = await chat.create_channel("inc-topic")

    await chat.set_topic(channel.id, "CRITICAL " + "lag " * 100)
    await chat.set_purpose(channel.id, "Kafka consumer lag on orders")

    assert len(fake_slack.topic("inc-topic")) == 250
    assert fake_slack.topic("inc-topic").endswith("…")
    assert fake_slack.purpose("inc-topic") == "Kafka consumer lag on orders"


async def test_add_bookmark(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A bookmark with title and link shows on the channel."""
    channel = await chat.create_channel("inc-bookmarks")

    await chat.add_bookmark(channel.id, "Runbook", "https://runbooks.example.com/kafka-lag")

    assert [(b["title"], b["link"]) for b in fake_slack.bookmarks("inc-bookmarks")] == [
        ("Runbook", "https://runbooks.example.com/kafka-lag")
    ]


async def test_archived_channel_is_a_permanent_failure(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """Writing to an archived channel fails permanently with is_archived."""
    archived = fake_slack.add_channel("inc-old", archived=True)

    with pytest.raises(SlackRefused) as refused:
        await chat.set_topic(archived.id, "reopened")

    assert refused.value.error == "is_archived"


# -- users and invitations -----------------------------------------------------------------------------------


async def test_resolve_user_by_email_id_or_mention(chat: SlackChat) -> None:
    """Emails are looked up, ids and mentions returned as is, unknown emails give None."""
    assert await chat.resolve_user("alice@example.com") == "U00ALICE01"
    assert await chat.resolve_user("W00CAROL01") == "W00CAROL01"
    assert await chat.resolve_user("<@U00BOB0001|bob>") == "U00BOB0001"
    assert await chat.resolve_user("nobody@example.com") is None
    assert await chat.resolve_user("just-a-name") is None


async def test_invite_by_email_adds_members(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """Users resolved from emails end up as channel members."""
    channel = await chat.create_channel("inc-invite")
    ids = [await chat.resolve_user(e) for e in ("alice@example.com", "bob@example.com")]

    await chat.invite(channel.id, [i for i in ids if i])

    assert {"U00ALICE01", "U00BOB0001"} <= fake_slack.members("inc-invite")


async def test_invite_tolerates_members_already_in(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """Re-inviting a member, or a batch with one member already in, invites the rest without an error."""
    channel = await chat.create_channel("inc-reinvite")
    await chat.invite(channel.id, ["U00ALICE01"])

    await chat.invite(channel.id, ["U00ALICE01"])
    await chat.invite(channel.id, ["U00ALICE01", "U00BOB0001", "W00CAROL01"])

    assert {"U00ALICE01", "U00BOB0001", "W00CAROL01"} <= fake_slack.members("inc-reinvite")


async def test_invite_of_an_unknown_user_is_reported_not_raised(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """An unknown user id or a member already in is reported back with Slack's per-user error (invited with
    force=true), while everyone else in the same call is invited."""
    channel = await chat.create_channel("inc-unknown-user")
    await chat.invite(channel.id, ["U00ALICE01"])

    refused = await chat.invite(channel.id, ["U0NOBODY00", "U00ALICE01", "U00BOB0001"])

    assert refused == {"U0NOBODY00": "user_not_found", "U00ALICE01": "already_in_channel"}
    assert "U00BOB0001" in fake_slack.members("inc-unknown-user")
    assert await chat.invite(channel.id, ["U0NOBODY00"]) == {"U0NOBODY00": "user_not_found"}
    assert all(c.get("force") in {"1", "true"} for c in fake_slack.calls_to("conversations.invite"))


async def test_update_needs_the_channel_id_and_ts_of_an_existing_message(chat: SlackChat,
                                                                        fake_slack: FakeSlack) -> None:
    """chat.update is sent with the channel id (even when given a name) and the original ts; an unknown ts is
    refused with message_not_found."""
    ts = await chat.post("#alerts", Message(text="first"), key="k-1")
    await chat.update("#alerts", ts, Message(text="second"))
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    [update] = fake_slack.calls_to("chat.update")
    assert update["channel"] == alerts.id and update["ts"] == ts
    assert fake_slack.messages("alerts")[-1]["text"] == "second"
    with pytest.raises(SlackRefused) as refused:
        await chat.update(alerts.id, "1.999999", Message(text="third"))
    assert refused.value.error == "message_not_found"


async def test_upload_file_uses_the_two_step_upload(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """files.getUploadURLExternal, the bytes to the returned URL, files.completeUploadExternal with channel_id;
    without files:write Slack refuses with missing_scope."""
    channel = await chat.create_channel("inc-upload")
    file_id = await chat.upload_file(channel.id, filename="graph.png", content=b"\x89PNG-bytes", title="Graph")
    [shared] = fake_slack.shared_files("inc-upload")
    assert shared.id == file_id and shared.content == b"\x89PNG-bytes" and shared.title == "Graph"
    fake_slack.missing_scopes.add("files:write")
    with pytest.raises(SlackRefused) as refused:
        await chat.upload_file(channel.id, filename="graph.png", content=b"x", title="Graph")
    assert refused.value.error == "missing_scope"


# -- posts ---------------------------------------------------------------------------------------------------


async def test_post_then_find_post_by_key(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A post is tagged with its key in message metadata, and find_post finds it by channel name or id."""
    ts = await chat.post("#alerts", Message(text="CRITICAL: consumer lag"), key="outbox-17")
    alerts = fake_slack.channel("alerts")
    assert alerts is not None

    assert fake_slack.messages("alerts")[-1]["text"] == "CRITICAL: consumer lag"
    assert fake_slack.messages("alerts")[-1]["metadata"] == {
        "event_type": "incident_bot_post", "event_payload": {"key": "outbox-17"}
    }
    assert await chat.find_post("alerts", key="outbox-17") == ts
    fresh = SlackChat(SLACK_TOKEN, base_url=fake_slack.api_url)  # no name->id cache yet
    assert await fresh.find_post("#alerts", key="outbox-17") == ts
    assert await chat.find_post(alerts.id, key="outbox-18") is None


async def test_find_post_in_an_unknown_channel_is_none(chat: SlackChat) -> None:
    """Looking for a post in a channel that does not exist answers None rather than failing."""
    assert await chat.find_post("#nowhere", key="k") is None


async def test_post_to_an_unknown_channel_is_permanent(chat: SlackChat) -> None:
    """Posting to a channel that does not exist fails permanently with channel_not_found."""
    with pytest.raises(SlackRefused) as refused:
        await chat.post("#nowhere", Message(text="hello"), key="k1")

    assert refused.value.error == "channel_not_found"


async def test_oversized_blocks_are_fitted_within_limits(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """Too many blocks and over-long texts are cut rather than refused by Slack."""
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "H" * 200}}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 5000}} for _ in range(60)]

    await chat.post("alerts", Message(text="big", blocks=blocks), key="big-1")

    posted = fake_slack.messages("alerts")[-1]["blocks"]
    assert len(posted) == 50
    assert len(posted[0]["text"]["text"]) == 150
    assert len(posted[1]["text"]["text"]) == 3000
    assert posted[1]["text"]["text"].endswith("…")
    assert "more blocks not shown" in posted[-1]["elements"][0]["text"]
    assert len(blocks) == 61  # the caller's blocks are left untouched


async def test_update_replaces_a_message(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """chat.update replaces the text of a message posted earlier."""
    ts = await chat.post("alerts", Message(text="OPEN"), key="u1")
    alerts = fake_slack.channel("alerts")
    assert alerts is not None

    await chat.update(alerts.id, ts, Message(text="RESOLVED"))

    assert fake_slack.messages("alerts")[-1]["text"] == "RESOLVED"


# -- failures ------------------------------------------------------------------------------------------------


async def test_rate_limit_is_waited_out_then_posted(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A 429 with Retry-After: 1 is retried after at least a second, and the message is posted once."""
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()

    ts = await chat.post("alerts", Message(text="after the limit"), key="rl-1")

    assert time.monotonic() - started >= 1.0
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    assert [m["ts"] for m in fake_slack.messages("alerts")] == [ts]


async def test_long_retry_after_goes_back_to_the_caller(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A Retry-After longer than the adapter's max wait becomes TransientDeliveryError carrying it."""
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=30)

    with pytest.raises(TransientDeliveryError) as failed:
        await chat.post("alerts", Message(text="later"), key="rl-2")

    assert failed.value.retry_after == 30
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


async def test_persistent_server_errors_become_transient(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A 500 on every attempt of an idempotent call is retried a bounded number of times, then raised as
    TransientDeliveryError."""
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    fake_slack.fail_next("conversations.setTopic", status=500, times=10)

    with pytest.raises(TransientDeliveryError):
        await chat.set_topic(alerts.id, "never")

    assert len(fake_slack.calls_to("conversations.setTopic")) == 3
    assert fake_slack.topic("alerts") == ""


async def test_one_server_error_is_retried(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A single 503 on an idempotent call is retried by the client and the call succeeds."""
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    fake_slack.fail_next("conversations.setPurpose", status=503)

    await chat.set_purpose(alerts.id, "after a 503")

    assert fake_slack.purpose("alerts") == "after a 503"


@pytest.mark.parametrize("method", ["chat.postMessage", "conversations.create", "bookmarks.add"])
async def test_calls_that_create_are_not_resent_after_an_ambiguous_failure(
        chat: SlackChat, fake_slack: FakeSlack, method: str) -> None:
    """Slack performs a post, channel or bookmark and then answers 500: the adapter does not send it again
    (that is the outbox's job, after looking); the caller gets a TransientDeliveryError."""
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    fake_slack.fail_next(method, status=500, after=True)
    calls = {
        "chat.postMessage": lambda: chat.post("alerts", Message(text="once"), key="ambiguous-1"),
        "conversations.create": lambda: chat.create_channel("inc-ambiguous"),
        "bookmarks.add": lambda: chat.add_bookmark(alerts.id, "Runbook", "https://runbooks.example.com/x"),
    }

    with pytest.raises(TransientDeliveryError):
        await calls[method]()

    assert len(fake_slack.calls_to(method)) == 1
    found = {
        "chat.postMessage": lambda: chat.find_post("alerts", key="ambiguous-1"),
        "conversations.create": lambda: chat.find_channel("inc-ambiguous"),
        "bookmarks.add": lambda: chat.find_bookmark(alerts.id, "Runbook", "https://runbooks.example.com/x"),
    }
    assert await found[method]()  # it did happen, once


async def test_a_dropped_answer_to_a_post_is_not_resent(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """Slack posts, then the connection drops before the answer: one message, and the failure is transient."""
    fake_slack.fail_next("chat.postMessage", disconnect=True, after=True)

    with pytest.raises(TransientDeliveryError):
        await chat.post("alerts", Message(text="dropped"), key="drop-1")

    assert [m["text"] for m in fake_slack.messages("alerts")] == ["dropped"]


async def test_dropped_connections_are_retried_then_transient(chat: SlackChat, fake_slack: FakeSlack) -> None:
    """A dropped connection is retried; one that keeps dropping becomes TransientDeliveryError."""
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    fake_slack.fail_next("conversations.setTopic", disconnect=True)
    await chat.set_topic(alerts.id, "survived a drop")
    fake_slack.fail_next("conversations.setTopic", disconnect=True, times=5)

    with pytest.raises(TransientDeliveryError):
        await chat.set_topic(alerts.id, "never")

    assert fake_slack.topic("alerts") == "survived a drop"


async def test_bad_token_is_permanent(fake_slack: FakeSlack) -> None:
    """A token the workspace does not know fails permanently with invalid_auth."""
    chat = SlackChat("xoxb-wrong", base_url=fake_slack.api_url, backoff=0.01)

    with pytest.raises(SlackRefused) as refused:
        await chat.post("alerts", Message(text="hi"), key="auth")

    assert refused.value.error == "invalid_auth"
    assert fake_slack.messages("alerts") == []


async def test_unreachable_slack_is_transient() -> None:
    """Nothing listening at the API URL is a transient failure."""
    chat = SlackChat(SLACK_TOKEN, base_url="http://127.0.0.1:9/api/", max_retries=1, backoff=0.01)

    with pytest.raises(TransientDeliveryError):
        await chat.find_channel("alerts")


# -- the fake's own rules, through the sync client (form bodies) ---------------------------------------------


def test_fake_requires_a_bearer_token(fake_slack: FakeSlack) -> None:
    """Without a token the fake answers not_authed, with a wrong one invalid_auth."""
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=fake_slack.api_url).auth_test()
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-nope", base_url=fake_slack.api_url).auth_test()

    assert missing.value.response["error"] == "not_authed"
    assert wrong.value.response["error"] == "invalid_auth"


def test_fake_answers_auth_test(sync_client: WebClient) -> None:
    """auth.test answers the bot's user id, as Bolt needs on its first request."""
    assert sync_client.auth_test()["user_id"] == "UBOT000001"


def test_fake_refuses_bad_channel_names(sync_client: WebClient) -> None:
    """The fake refuses channel names with specials, over 80 characters, or taken, as Slack does."""
    for name, error in (("Bad Name", "invalid_name_specials"), ("a" * 81, "invalid_name_maxlength"),
                        ("alerts", "name_taken")):
        with pytest.raises(SlackApiError) as refused:
            sync_client.conversations_create(name=name)
        assert refused.value.response["error"] == error


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_fake_enforces_topic_and_block_limits(sync_client: WebClient, fake_slack: FakeSlack) -> None:
    """Over-long topics, over 50 blocks, long section or header texts and empty messages are refused."""
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}
    cases = [
        (lambda: sync_client.conversations_setTopic(channel=alerts.id, topic="t" * 251), "too_long"),
        (lambda: sync_client.chat_postMessage(channel=alerts.id, text="x", blocks=[section] * 51),
         "invalid_blocks"),
        (lambda: sync_client.chat_postMessage(
            channel=alerts.id, text="x",
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]),
         "invalid_blocks"),
        (lambda: sync_client.chat_postMessage(
            channel=alerts.id, text="x",
            blocks=[{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]),
         "invalid_blocks"),
        (lambda: sync_client.chat_postMessage(channel=alerts.id, text="", blocks=[]), "no_text"),
        (lambda: sync_client.chat_postMessage(channel="#nowhere", text="x"), "channel_not_found"),
        (lambda: sync_client.users_lookupByEmail(email="nobody@example.com"), "users_not_found"),
    ]
    for call, error in cases:
        with pytest.raises(SlackApiError) as refused:
            call()
        assert refused.value.response["error"] == error
    assert fake_slack.messages("alerts") == []


def test_fake_history_shows_metadata_only_when_asked(sync_client: WebClient, fake_slack: FakeSlack) -> None:
    """conversations.history includes message metadata only with include_all_metadata."""
    alerts = fake_slack.channel("alerts")
    assert alerts is not None
    sync_client.chat_postMessage(channel="#alerts", text="tagged",
                                 metadata={"event_type": "t", "event_payload": {"k": "v"}})

    plain = sync_client.conversations_history(channel=alerts.id)["messages"]
    tagged = sync_client.conversations_history(channel=alerts.id, include_all_metadata=True)["messages"]

    assert "metadata" not in plain[0]
    assert tagged[0]["metadata"] == {"event_type": "t", "event_payload": {"k": "v"}}


def test_fake_ephemeral_needs_a_member(sync_client: WebClient, fake_slack: FakeSlack) -> None:
    """chat.postEphemeral reaches channel members only; others get user_not_in_channel."""
    fake_slack.add_channel("inc-eph", members=("U00ALICE01",))

    assert sync_client.chat_postEphemeral(channel="#inc-eph", user="U00ALICE01", text="psst")["message_ts"]
    with pytest.raises(SlackApiError) as refused:
        sync_client.chat_postEphemeral(channel="#inc-eph", user="U00BOB0001", text="psst")
    assert refused.value.response["error"] == "user_not_in_channel"


# -- record-only mode ----------------------------------------------------------------------------------------


async def test_recording_chat_remembers_posts_by_key() -> None:
    """Without a token, posts are recorded with synthetic ids and ts, and find_post finds them by key."""
    chat = RecordingChat()
    channel = await chat.create_channel("inc-offline")
    await chat.set_topic(channel.id, "t" * 300)
    await chat.invite(channel.id, [await chat.resolve_user("alice@example.com") or ""])

    ts = await chat.post("#inc-offline", Message(text="recorded"), key="k1")

    assert channel.id == "R-inc-offline"
    assert await chat.find_post(channel.id, key="k1") == ts
    assert await chat.find_post("inc-offline", key="k2") is None
    assert await chat.find_channel("#inc-offline") == channel
    assert len(chat.topics[channel.id]) == 250
    assert chat.posts[0].message.text == "recorded"
    with pytest.raises(NameTaken):
        await chat.create_channel("inc-offline")
