"""SNS HTTP(S) envelopes: the three message types, their fields as a pydantic model, and the string SNS signs.

The whole envelope is checked here, before anything else looks at it: strict JSON (`bot.strict_json`), every
signed field a string of bounded length, identifiers free of control characters (they become database keys).
What is refused gets a `BadInput` whose reason is one line naming the field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from bot import strict_json
from bot.errors import BadInput


class MessageType(StrEnum):
    NOTIFICATION = "Notification"
    SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
    UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"


# The keys SNS signs, in the order it signs them (AWS: "Verifying the signatures of Amazon SNS messages").
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
ENVELOPE_DEPTH = 8  # an envelope is flat but for MessageAttributes ({name: {Type, Value}})

# Printable ASCII without spaces: SNS message ids are UUIDs, ARNs and URLs are ASCII. These end up as database
# keys and in URLs we fetch, where a NUL byte or a newline must never arrive.
Token = Annotated[str, StringConstraints(min_length=1, pattern=r"^[\x21-\x7e]+$")]
Text = Annotated[str, StringConstraints(min_length=1)]


class Envelope(BaseModel):
    """One SNS delivery, fields as they arrived (SNS's names are the aliases)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, strict=True)

    type: MessageType = Field(alias="Type", strict=False)
    message_id: Annotated[Token, StringConstraints(max_length=128)] = Field(alias="MessageId")
    # The deliveries table holds 256 characters; SNS topic names are at most 256 with the ARN prefix before them.
    topic_arn: Annotated[Token, StringConstraints(max_length=256)] = Field(alias="TopicArn")
    message: Text = Field(alias="Message")
    timestamp: Annotated[Text, StringConstraints(max_length=64)] = Field(alias="Timestamp")
    signature_version: Annotated[Text, StringConstraints(max_length=16)] = Field(alias="SignatureVersion")
    signature: Annotated[Text, StringConstraints(max_length=4096)] = Field(alias="Signature")
    signing_cert_url: Annotated[Text, StringConstraints(max_length=2048)] = Field(alias="SigningCertURL")
    subject: str | None = Field(default=None, alias="Subject")
    subscribe_url: Annotated[Token, StringConstraints(max_length=4096)] | None = Field(
        default=None, alias="SubscribeURL")
    token: Annotated[Token, StringConstraints(max_length=4096)] | None = Field(default=None, alias="Token")

    @model_validator(mode="after")
    def _confirmations_carry_url_and_token(self) -> Envelope:
        if self.type is not MessageType.NOTIFICATION:
            for key, value in (("SubscribeURL", self.subscribe_url), ("Token", self.token)):
                if value is None:
                    raise ValueError(f"missing field: {key}")
        return self

    @property
    def fields(self) -> dict[str, str | None]:
        """Field values under their SNS names, for building the string to sign."""
        return {
            "Type": self.type.value,
            "MessageId": self.message_id,
            "TopicArn": self.topic_arn,
            "Message": self.message,
            "Timestamp": self.timestamp,
            "Subject": self.subject,
            "SubscribeURL": self.subscribe_url,
            "Token": self.token,
        }

    @property
    def region(self) -> str:
        """The AWS region in the topic ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`)."""
        parts = self.topic_arn.split(":")
        return parts[3] if len(parts) > 5 else ""


def string_to_sign(fields: dict[str, Any]) -> bytes:
    """The canonical `Key\\nValue\\n` string SNS signs; a null or absent Subject is left out."""
    keys = NOTIFICATION_KEYS if fields.get("Type") == MessageType.NOTIFICATION else CONFIRMATION_KEYS
    parts = []
    for key in keys:
        value = fields.get(key)
        if value is None:
            continue
        parts.append(f"{key}\n{value}\n")
    return "".join(parts).encode("utf-8")


def parse_envelope(body: bytes) -> Envelope:
    """Parse a delivery body; raises BadInput with a one-line reason for anything malformed."""
    data = strict_json.loads(body, what="body", max_depth=ENVELOPE_DEPTH)
    if not isinstance(data, dict):
        raise BadInput("body must be a JSON object")
    if data.get("Type") is None:
        raise BadInput("missing field: Type")
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        raise BadInput(_reason(exc)) from None


def _reason(exc: ValidationError) -> str:
    """The first problem of a validation error as one line in our words."""
    error = exc.errors(include_url=False)[0]
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "missing" or (kind == "string_too_short" and not error.get("input")):
        return f"missing field: {key}"
    if key == "Type":
        return f"unknown SNS message type: {str(error.get('input'))[:60]!r}"
    if kind == "string_type":
        return f"field {key} must be a string"
    if kind == "string_too_long":
        return f"field {key} is longer than {error.get('ctx', {}).get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return f"field {key} must be printable ASCII without spaces"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{key}: {message}" if key else message
