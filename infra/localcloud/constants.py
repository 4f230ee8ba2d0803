"""Where the local cloud pretends to be."""

ACCOUNT = "123456789012"
REGION = "us-east-1"
