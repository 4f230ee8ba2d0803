"""The embedded local cloud: moto's AWS APIs, the template's functions run in-process, and a
virtual clock, all driven by the same template.yaml that deploys."""

from localcloud.cloud import LocalCloud

__all__ = ["LocalCloud"]
