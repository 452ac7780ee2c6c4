"""SNS HTTP(S) envelopes: the three message types, their required fields, and the string SNS signs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.errors import BadInput


class MessageType(StrEnum):
    NOTIFICATION = "Notification"
    SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
    UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"


# The keys SNS signs, in the order it signs them (AWS: "Verifying the signatures of Amazon SNS messages").
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One SNS delivery, fields as they arrived."""

    type: MessageType
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    signature_version: str
    signature: str
    signing_cert_url: str
    subject: str | None = None
    subscribe_url: str | None = None
    token: str | None = None

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
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadInput("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadInput("body must be a JSON object")
    raw_type = data.get("Type")
    if raw_type is None:
        raise BadInput("missing field: Type")
    try:
        kind = MessageType(raw_type)
    except ValueError:
        raise BadInput(f"unknown SNS message type: {str(raw_type)[:60]}") from None
    required = ["MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL"]
    if kind is not MessageType.NOTIFICATION:
        required += ["SubscribeURL", "Token"]
    for key in required:
        value = data.get(key)
        if value is None or value == "":
            raise BadInput(f"missing field: {key}")
        if not isinstance(value, str):
            raise BadInput(f"field {key} must be a string")
    subject = data.get("Subject")
    if subject is not None and not isinstance(subject, str):
        raise BadInput("field Subject must be a string")
    return Envelope(
        type=kind,
        message_id=data["MessageId"],
        topic_arn=data["TopicArn"],
        message=data["Message"],
        timestamp=data["Timestamp"],
        signature_version=data["SignatureVersion"],
        signature=data["Signature"],
        signing_cert_url=data["SigningCertURL"],
        subject=subject,
        subscribe_url=data.get("SubscribeURL"),
        token=data.get("Token"),
    )
