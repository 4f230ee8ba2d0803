"""In-memory stand-ins for the domain ports, shared by unit tests and benchmarks."""

from __future__ import annotations

from nurture.tracking.events import Activity


class InMemoryActivities:
    """The ActivityStore port in memory: message ids dedupe, like the DynamoDB adapter."""

    def __init__(self) -> None:
        self.items: dict[str, Activity] = {}

    def put_new(self, activity: Activity) -> bool:
        if activity.message_id in self.items:
            return False
        self.items[activity.message_id] = activity
        return True

    def put_many_new(self, activities: list[Activity]) -> list[bool]:
        return [self.put_new(a) for a in activities]

    def put_once(self, activity: Activity) -> bool:
        return self.put_new(activity)  # every copy has one key: once per message id as well

    def list_for(self, actors: list[str], limit: int = 200) -> list[Activity]:
        wanted = set(actors)
        found = [a for a in self.items.values() if a.actor in wanted]
        return sorted(found, key=lambda a: a.sort_key, reverse=True)[:limit]
