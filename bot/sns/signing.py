"""Sign SNS deliveries as AWS does, for tests, benchmarks, the demo and the local alarm evaluator.

Production never signs: it only verifies. `generate_identity` makes a throw-away key and self-signed
certificate, so nothing here is downloaded; point `SNS_SIGNING_CERT_FILE` at the certificate it writes.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from bot.sns.envelope import string_to_sign

DEFAULT_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-incidentbotlocal0000000000.pem"


def generate_identity(directory: Path) -> tuple[Path, Path]:
    """Write `sns-signing.key` and `sns-signing.pem` (self-signed, CN=sns.amazonaws.com) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "sns-signing.key", directory / "sns-signing.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class SnsSigner:
    """Builds signed SNS envelopes (as JSON-ready dicts) with one private key."""

    def __init__(self, private_key_pem: bytes, *, cert_url: str = DEFAULT_CERT_URL) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("SNS signing needs an RSA private key")
        self._key = key
        self.cert_url = cert_url

    @classmethod
    def from_file(cls, key_path: Path, *, cert_url: str = DEFAULT_CERT_URL) -> SnsSigner:
        """Load the key `generate_identity` wrote."""
        return cls(key_path.read_bytes(), cert_url=cert_url)

    def sign(self, envelope: dict[str, object], *, version: str = "2") -> dict[str, object]:
        """Return `envelope` with SignatureVersion, SigningCertURL and Signature filled in."""
        signed = dict(envelope)
        signed["SignatureVersion"] = version
        signed["SigningCertURL"] = self.cert_url
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS v1 is SHA1 by spec
        signature = self._key.sign(string_to_sign(signed), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode("ascii")
        return signed

    def notification(
        self,
        *,
        topic_arn: str,
        message: str,
        subject: str | None = None,
        message_id: str | None = None,
        timestamp: datetime | None = None,
        version: str = "2",
    ) -> dict[str, object]:
        """A signed Notification envelope carrying `message`."""
        envelope: dict[str, object] = {
            "Type": "Notification",
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": topic_arn,
            "Message": message,
            "Timestamp": _sns_time(timestamp),
            "UnsubscribeURL": f"https://sns.{_region(topic_arn)}.amazonaws.com/?Action=Unsubscribe",
        }
        if subject is not None:
            envelope["Subject"] = subject
        return self.sign(envelope, version=version)

    def confirmation(
        self, *, topic_arn: str, kind: str = "SubscriptionConfirmation", subscribe_url: str | None = None
    ) -> dict[str, object]:
        """A signed SubscriptionConfirmation or UnsubscribeConfirmation envelope."""
        token = uuid.uuid4().hex * 2
        url = subscribe_url or (
            f"https://sns.{_region(topic_arn)}.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={topic_arn}&Token={token}"
        )
        return self.sign(
            {
                "Type": kind,
                "MessageId": str(uuid.uuid4()),
                "Token": token,
                "TopicArn": topic_arn,
                "Message": f"You have chosen to subscribe to the topic {topic_arn}.",
                "SubscribeURL": url,
                "Timestamp": _sns_time(None),
            }
        )


def body(envelope: dict[str, object]) -> bytes:
    """Serialize an envelope the way SNS puts it on the wire."""
    return json.dumps(envelope, indent=2).encode("utf-8")


def _sns_time(when: datetime | None) -> str:
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _region(topic_arn: str) -> str:
    parts = topic_arn.split(":")
    return parts[3] if len(parts) > 5 else "us-east-1"
