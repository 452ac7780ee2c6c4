"""Where SNS certificates and subscription confirmations may come from: Amazon SNS itself, nothing that looks like it.

A host is accepted only when it is exactly `sns.<region>.amazonaws.com` (or `.amazonaws.com.cn` in the China
partition) for a region AWS has: the region list is botocore's endpoint data, the same the AWS SDK resolves
endpoints from, so upgrading boto3 is how a new region becomes known. Look-alikes that a loose pattern admits
(`sns.s3.amazonaws.com` is S3 serving a bucket named "sns", `sns.elasticbeanstalk.amazonaws.com` another service)
are refused before any connection. The URL must be https on the default port, without user info.
"""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

# The partitions whose hosts AWS documents for SNS signing certificates; others (ISO, EUSC) use other suffixes.
SNS_DNS_SUFFIXES = frozenset({"amazonaws.com", "amazonaws.com.cn"})


@cache
def sns_hosts() -> frozenset[str]:
    """`sns.<region>.<suffix>` for every region of botocore's endpoint data in an amazonaws.com(.cn) partition."""
    import botocore.loaders

    data = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(
        f"sns.{region}.{partition['dnsSuffix']}"
        for partition in data["partitions"]
        if partition.get("dnsSuffix") in SNS_DNS_SUFFIXES
        for region in partition.get("regions", {})
    )


def is_sns_url(url: str) -> bool:
    """True for an https URL, default port, no user info, on a real SNS regional host: the only URLs we fetch."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        return False
    if parts.scheme != "https" or port not in (None, 443) or parts.username is not None or parts.password is not None:
        return False
    # urlsplit lowercases the host; a trailing dot or percent-encoding would not survive the exact match.
    return parts.hostname in sns_hosts() and parts.netloc.lower().removesuffix(":443") == parts.hostname
