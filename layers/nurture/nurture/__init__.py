"""Nurture: the shared domain package (built as a Lambda layer, installed in development).

Domain modules import no boto3; they talk to the ports in `nurture.ports`.
Adapters for AWS services live in `nurture.adapters`.
"""
