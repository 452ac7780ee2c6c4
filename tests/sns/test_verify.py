"""SNS signature verification: AWS's own signed messages, our signed ones, and every way to get it wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import BadInput, VerificationFailed
from bot.sns.envelope import MessageType, parse_envelope
from bot.sns.signing import SnsSigner, body
from bot.sns.verify import SignatureVerifier, is_sns_url

REAL = Path(__file__).parent.parent / "fixtures" / "sns-real"
AWS_CERT = REAL / "SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"
TOPIC = "arn:aws:sns:us-east-1:123456789012:orders-pipeline-critical"


async def _no_fetch(url: str) -> bytes:
    raise AssertionError(f"unexpected download of {url}")


@pytest.mark.parametrize("name", sorted(p.name for p in REAL.glob("*.json")))
async def test_real_aws_messages_verify(name: str) -> None:
    """Every delivery AWS signed (v1 and v2, notifications and confirmations) verifies byte for byte."""
    verifier = SignatureVerifier(_no_fetch, local_cert=AWS_CERT)
    await verifier.verify(parse_envelope((REAL / name).read_bytes()))


async def test_real_message_tampered_fails() -> None:
    """Changing one character of a real AWS message breaks its signature."""
    raw = json.loads((REAL / "javav2_2026_notification_v1_with_subject.json").read_bytes())
    raw["Message"] = raw["Message"].replace("Hello", "Jello")
    verifier = SignatureVerifier(_no_fetch, local_cert=AWS_CERT)
    with pytest.raises(VerificationFailed, match="does not match"):
        await verifier.verify(parse_envelope(json.dumps(raw).encode()))


async def test_real_certificate_downloaded_once_and_cached() -> None:
    """Without a local certificate the verifier fetches SigningCertURL once and reuses it."""
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        return AWS_CERT.read_bytes()

    verifier = SignatureVerifier(fetch)
    for name in ("javav2_2026_notification_v1_no_subject.json", "javav2_2026_notification_v2_no_subject.json"):
        await verifier.verify(parse_envelope((REAL / name).read_bytes()))
    assert fetched == ["https://sns.us-west-2.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"]


@pytest.mark.parametrize("version", ["1", "2"])
async def test_own_signatures_verify_both_versions(signer: SnsSigner, sns_identity: tuple[SnsSigner, Path],
                                                   version: str) -> None:
    """A message signed with SHA1withRSA (v1) or SHA256withRSA (v2) verifies, newlines and unicode included."""
    verifier = SignatureVerifier(_no_fetch, local_cert=sns_identity[1])
    envelope = signer.notification(topic_arn=TOPIC, message='{"a": "line\\nbreak é"}\nsecond', subject="Sü",
                                   version=version)
    await verifier.verify(parse_envelope(body(envelope)))


async def test_signature_of_other_key_fails(signer: SnsSigner) -> None:
    """A message signed by us does not verify against AWS's certificate."""
    verifier = SignatureVerifier(_no_fetch, local_cert=AWS_CERT)
    with pytest.raises(VerificationFailed):
        await verifier.verify(parse_envelope(body(signer.notification(topic_arn=TOPIC, message="x"))))


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem",
        "not a url",
    ],
)
async def test_certificate_url_must_be_an_sns_host(signer: SnsSigner, sns_identity: tuple[SnsSigner, Path],
                                                   url: str) -> None:
    """A SigningCertURL off sns.<region>.amazonaws.com is refused even with a local certificate."""
    envelope = SnsSigner(signer._key.private_bytes(
        *_pem_args()), cert_url=url).notification(topic_arn=TOPIC, message="x")
    verifier = SignatureVerifier(_no_fetch, local_cert=sns_identity[1])
    with pytest.raises(VerificationFailed, match="SigningCertURL"):
        await verifier.verify(parse_envelope(body(envelope)))


def _pem_args() -> tuple[object, object, object]:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()


def test_china_partition_host_is_accepted() -> None:
    """The .amazonaws.com.cn partition is an SNS host too."""
    assert is_sns_url("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem")


@pytest.mark.parametrize(("change", "reason"), [
    ({"SignatureVersion": "3"}, "unsupported SignatureVersion"),
    ({"Signature": "%%%not-base64%%%"}, "not valid base64"),
])
async def test_bad_signature_fields(signer: SnsSigner, sns_identity: tuple[SnsSigner, Path],
                                    change: dict[str, str], reason: str) -> None:
    """An unknown signature version or undecodable signature is a verification failure, not a crash."""
    envelope = {**signer.notification(topic_arn=TOPIC, message="x"), **change}
    verifier = SignatureVerifier(_no_fetch, local_cert=sns_identity[1])
    with pytest.raises(VerificationFailed, match=reason):
        await verifier.verify(parse_envelope(body(envelope)))


async def test_unreachable_certificate_is_a_verification_failure(signer: SnsSigner) -> None:
    """When the certificate cannot be fetched the delivery is refused with the reason."""
    async def fetch(url: str) -> bytes:
        raise TimeoutError("slow")

    with pytest.raises(VerificationFailed, match="could not fetch"):
        await SignatureVerifier(fetch).verify(parse_envelope(body(signer.notification(topic_arn=TOPIC, message="x"))))


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"MessageId": "1"}', "missing field: Type"),
    (b'{"Type": "Weird"}', "unknown SNS message type"),
    (b'{"Type": "Notification", "MessageId": "1"}', "missing field: TopicArn"),
    (b'{"Type": "Notification", "MessageId": 5}', "MessageId must be a string"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_envelope_parse_errors_name_the_problem(raw: bytes, reason: str) -> None:
    """Malformed envelopes are refused with a one-line reason."""
    with pytest.raises(BadInput, match=reason):
        parse_envelope(raw)


def test_null_subject_is_left_out_of_the_signed_string() -> None:
    """A Lambda-style `Subject: null` parses as no subject."""
    raw = json.loads((REAL / "javav2_2026_notification_v1_no_subject.json").read_bytes())
    raw["Subject"] = None
    envelope = parse_envelope(json.dumps(raw).encode())
    assert envelope.subject is None and envelope.type is MessageType.NOTIFICATION


@pytest.mark.parametrize(("url", "accepted"), [
    ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem", True),
    ("https://sns.eu-south-1.amazonaws.com/SimpleNotificationService-x.pem", True),
    ("https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-x.pem", True),
    ("https://sns.cn-northwest-1.amazonaws.com.cn/SimpleNotificationService-x.pem", True),
    ("https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-x.pem", True),
    ("https://sns.s3.amazonaws.com/SimpleNotificationService-x.pem", False),  # S3: a bucket named "sns"
    ("https://sns.s3-us-west-2.amazonaws.com/SimpleNotificationService-x.pem", False),
    ("https://sns.elasticbeanstalk.amazonaws.com/SimpleNotificationService-x.pem", False),
    ("https://sns.us-east-7.amazonaws.com/SimpleNotificationService-x.pem", False),  # no such region
    ("https://sns.cn-north-1.amazonaws.com/SimpleNotificationService-x.pem", False),  # China is .com.cn
    ("https://sns.us-east-1.amazonaws.com.cn/SimpleNotificationService-x.pem", False),
    ("https://sns.us-east-1.amazonaws.com./SimpleNotificationService-x.pem", False),
    ("https://sns.us-east-1.amazonaws.com:abc/SimpleNotificationService-x.pem", False),
    ("https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-x.pem", False),
    ("https://user:pw@sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem", False),
    ("https://sns.us-east-1.amazonaws.com@evil.example/x.pem", False),
    ("http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem", False),
    ("https://[::1]/x.pem", False),
    ("https://[::1/x.pem", False),
])
def test_only_real_sns_regional_hosts_are_accepted(url: str, accepted: bool) -> None:
    """https, default port, no user info, exactly sns.<real region>.amazonaws.com(.cn): nothing that looks like it."""
    assert is_sns_url(url) is accepted
