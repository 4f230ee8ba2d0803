"""Model versions in the content bucket: every version kept, one live.

    models/predictive/v<N>/model.json   the model (nurture.predictive.model), scored as is
    models/predictive/v<N>/card.json    its model card (card.md: the same for people)
    models/predictive/live.json         {"version": N, "history": [..., N], "changed_at"}

`history` lists the versions that have been live, oldest first: a rollback makes the one
before the current live again (or a named version), and is itself one entry more.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol

from nurture.predictive.model import PredictiveModel

PREFIX = "models/predictive/"
LIVE_KEY = PREFIX + "live.json"
_VERSION = re.compile(r"^models/predictive/v(\d+)/model\.json$")


class ModelStore(Protocol):
    """Objects in the content bucket (S3 in AWS: nurture.adapters.predictive)."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def list(self, prefix: str) -> list[str]: ...


class FolderStore:
    """A ModelStore in a local folder (the bucket's layout under it)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def get(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())


class NoModel(Exception):
    pass


class Registry:
    def __init__(self, store: ModelStore):
        self.store = store
        self._cache: dict[int, PredictiveModel] = {}

    def _json(self, key: str) -> dict[str, Any] | None:
        body = self.store.get(key)
        return json.loads(body) if body is not None else None

    def versions(self) -> list[int]:
        found = (_VERSION.match(k) for k in self.store.list(PREFIX))
        return sorted(int(m.group(1)) for m in found if m)

    def next_version(self) -> int:
        return max(self.versions(), default=0) + 1

    def save(self, model: PredictiveModel, card: dict[str, Any], card_md: str) -> None:
        base = f"{PREFIX}v{model.version}/"
        body = json.dumps(model.data, indent=1, sort_keys=True).encode()
        self.store.put(base + "model.json", body, "application/json")
        self.store.put(base + "card.json", json.dumps(card, indent=1).encode(), "application/json")
        self.store.put(base + "card.md", card_md.encode(), "text/markdown; charset=utf-8")

    def model(self, version: int) -> PredictiveModel:
        if version not in self._cache:
            data = self._json(f"{PREFIX}v{version}/model.json")
            if data is None:
                raise NoModel(f"no predictive model v{version}")
            self._cache[version] = PredictiveModel(data)
        return self._cache[version]

    def card(self, version: int) -> tuple[dict[str, Any], str]:
        card = self._json(f"{PREFIX}v{version}/card.json")
        text = self.store.get(f"{PREFIX}v{version}/card.md")
        if card is None or text is None:
            raise NoModel(f"no model card for v{version}")
        return card, text.decode()

    def live_pointer(self) -> dict[str, Any] | None:
        return self._json(LIVE_KEY)

    def live_version(self) -> int | None:
        pointer = self.live_pointer()
        return int(pointer["version"]) if pointer else None

    def live(self) -> PredictiveModel | None:
        version = self.live_version()
        return self.model(version) if version is not None else None

    def promote(self, version: int, at: str) -> dict[str, Any]:
        self.model(version)  # exists
        pointer = self.live_pointer() or {"history": []}
        history = [*pointer.get("history", []), version]
        live = {"version": version, "history": history, "changed_at": at}
        self.store.put(LIVE_KEY, json.dumps(live).encode(), "application/json")
        return live

    def rollback(self, at: str, to: int | None = None) -> dict[str, Any]:
        """Make the previously live version (or `to`) live again."""
        pointer = self.live_pointer()
        if pointer is None:
            raise NoModel("no live predictive model to roll back")
        if to is None:
            current = int(pointer["version"])
            earlier = [v for v in pointer.get("history", []) if v != current]
            if not earlier:
                raise NoModel(f"v{current} is the only version that has been live")
            to = earlier[-1]
        if to not in self.versions():
            raise NoModel(f"no predictive model v{to}")
        return self.promote(to, at)
