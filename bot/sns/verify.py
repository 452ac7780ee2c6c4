"""Signature verification for SNS deliveries (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA).

The certificate comes only from an https `SigningCertURL` on `sns.<region>.amazonaws.com` (or the China
partition's `.amazonaws.com.cn`) for a real region (`bot.sns.hosts`). It is fetched once per URL with a short
timeout and cached. With `SNS_SIGNING_CERT_FILE` set, that local PEM replaces the download; the URL and
signature are still checked.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bot.errors import VerificationFailed
from bot.sns.envelope import Envelope, string_to_sign
from bot.sns.hosts import is_sns_url, sns_hosts

__all__ = ["CertFetcher", "SignatureVerifier", "is_sns_url"]
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}

CertFetcher = Callable[[str], Awaitable[bytes]]


class SignatureVerifier:
    """Checks SNS signatures; one instance per process so the certificate cache is shared."""

    def __init__(self, fetch: CertFetcher, *, local_cert: Path | None = None, cache_size: int = 16) -> None:
        self._fetch = fetch
        self._cache: dict[str, rsa.RSAPublicKey] = {}
        self._cache_size = cache_size
        self._lock = asyncio.Lock()
        self._local_key = _public_key(local_cert.read_bytes()) if local_cert else None
        sns_hosts()  # load the region list now, not on the first delivery

    async def verify(self, envelope: Envelope) -> None:
        """Return when `envelope` is authentic; raise VerificationFailed with the reason otherwise."""
        algorithm = _HASHES.get(envelope.signature_version)
        if algorithm is None:
            raise VerificationFailed(f"unsupported SignatureVersion {envelope.signature_version[:10]!r}")
        if not is_sns_url(envelope.signing_cert_url):
            raise VerificationFailed("SigningCertURL is not https on sns.<region>.amazonaws.com for a real region")
        try:
            signature = base64.b64decode(envelope.signature, validate=True)
        except (binascii.Error, ValueError):
            raise VerificationFailed("Signature is not valid base64") from None
        key = self._local_key or await self._key_for(envelope.signing_cert_url)
        try:
            key.verify(signature, string_to_sign(envelope.fields), padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise VerificationFailed("signature does not match the message") from None

    async def _key_for(self, url: str) -> rsa.RSAPublicKey:
        cached = self._cache.get(url)
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._cache.get(url)
            if cached is not None:
                return cached
            try:
                pem = await self._fetch(url)
            except Exception as exc:
                raise VerificationFailed(f"could not fetch the signing certificate: {type(exc).__name__}") from None
            key = _public_key(pem)
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[url] = key
            return key


def _public_key(pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        raise VerificationFailed("the signing certificate is not a PEM X.509 certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise VerificationFailed("the signing certificate does not hold an RSA key")
    return key
