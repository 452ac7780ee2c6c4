"""Amazon SNS over HTTPS: parse envelopes, verify their signatures, and (for tests and the demo) sign them."""
