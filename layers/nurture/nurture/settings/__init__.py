"""Each function's configuration, read from its environment and validated at start-up so a
misconfigured function fails loudly and early.

A function's own model is in its module here (`nurture.settings.ingest`, ...): a cold start
creates only the model its handler validates (each costs ~0.7 ms to create, built or not).
The tables most functions share are `Tables`."""

from __future__ import annotations

import os
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T", bound=BaseModel)


class Env(BaseModel):
    # defer_build: a function validates one of these models; the others cost no schema
    # build at its cold start.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class Tables(Env):
    contacts_table: str = Field(alias="CONTACTS_TABLE")
    activities_table: str = Field(alias="ACTIVITIES_TABLE")
    state_table: str = Field(alias="STATE_TABLE")


def load(model: type[T]) -> T:
    return model.model_validate(dict(os.environ))
