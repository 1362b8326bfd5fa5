"""The configuration the server knows (users, service clients, cameras, event types) and who
may see and trigger what."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

import attrs

from .rejected import Rejected
from .seed import SimCamera, SimEventType, SimStateGroup, SimUser


def canonical_guid(text: object) -> str | None:
    """The lower-case ``8-4-4-4-12`` form of a GUID string, or None if it is not one."""
    if isinstance(text, uuid.UUID):
        return str(text)
    if not isinstance(text, str):
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


@attrs.frozen
class Identity:
    """Who a token speaks for: a basic/Windows user, or a service client (``service=True``)."""

    name: str
    service: bool = False

    @property
    def key(self) -> str:
        return f"{'service' if self.service else 'user'}:{self.name}"


Visible = frozenset[str | None] | None  # None: everything

#: What a plain trigger body's (raw type, raw source) pair that passed every check comes
#: to: the record's type, source and source GUID.
Checked = tuple[str, str | None, str | None]
#: The pairs remembered per identity at most (spellings of one source are many).
MAX_CHECKED = 10_000


class Directory:
    """The configuration the server knows: users, service clients, cameras, event types.

    Visibility [seed]: a service token sees every source; a user sees the cameras in its
    ``sources`` (all when ``"all"``), cameras added with ``visible_to`` naming it or ``"all"``,
    and every null or user-defined-event source.
    """

    def __init__(
        self,
        users: Iterable[SimUser],
        service_clients: Mapping[str, str],
        cameras: Iterable[SimCamera],
        event_types: Iterable[SimEventType],
        state_groups: Iterable[SimStateGroup] = (),
    ) -> None:
        self.users: dict[str, SimUser] = {u.username: u for u in users}
        self.service_clients: dict[str, str] = dict(service_clients)
        self.cameras: dict[str, SimCamera] = {}
        self.types: dict[str, SimEventType] = {}
        #: Retention by type id; kept when a type is deleted (its stored events stay).
        self.retention: dict[str, float | None] = {}
        #: Each known type id to itself: the one string object every record shares.
        self.type_keys: dict[str, str] = {}
        self._resolved: dict[str, tuple[str, str]] = {}
        self._user_triggerable: set[str] = set()
        self._visible: dict[str, Visible] = {}
        self._checked: dict[Identity, dict[tuple[str, str | None], Checked]] = {}
        self.state_groups: dict[str, SimStateGroup] = {str(g.id): g for g in state_groups}
        for camera in cameras:
            self.add_camera(camera)
        for event_type in event_types:
            self.add_event_type(event_type)

    def add_camera(self, camera: SimCamera) -> None:
        self.cameras[str(camera.id)] = camera
        self._changed()

    def add_event_type(self, event_type: SimEventType) -> None:
        key = str(event_type.id)
        self.types[key] = event_type
        self.type_keys[key] = key
        self.retention[key] = event_type.retention
        if event_type.user_may_trigger:
            self._user_triggerable.add(key)
        self._changed()

    def remove_event_type(self, type_id: str) -> None:
        """Forget a type (a deleted user-defined event); its stored events stay."""
        self.types.pop(type_id, None)
        self.type_keys.pop(type_id, None)
        self._user_triggerable.discard(type_id)
        self._changed()

    def _changed(self) -> None:
        self._visible.clear()
        self._resolved.clear()
        self._checked.clear()

    def checked_pairs(self, who: Identity) -> dict[tuple[str, str | None], Checked]:
        """The pairs of plain trigger bodies that passed every check for ``who`` and what
        each came to, for batches to skip the checks of a pair seen before; forgotten on any
        change of the configuration (what a check reads) and past :data:`MAX_CHECKED`."""
        pairs = self._checked.get(who)
        if pairs is None or len(pairs) >= MAX_CHECKED:
            pairs = self._checked[who] = {}
        return pairs

    def may_trigger(self, who: Identity, type_id: str) -> bool:
        """Service tokens trigger any type; users External and MIPDevice but Generic [seed]."""
        return who.service or type_id in self._user_triggerable

    def visible(self, who: Identity) -> Visible:
        """The source GUIDs ``who`` may see (None: all of them)."""
        if who.service:
            return None
        if who.name not in self._visible:
            self._visible[who.name] = self._compute_visible(who.name)
        return self._visible[who.name]

    def _compute_visible(self, username: str) -> Visible:
        user = self.users.get(username)
        if user is None:
            return frozenset((None,))
        if user.sources == "all":
            return None
        allowed: set[str | None] = {None, *(str(s) for s in user.sources)}
        allowed.update(key for key, t in self.types.items() if t.is_user_defined)
        for key, camera in self.cameras.items():
            if camera.visible_to == "all" or (
                isinstance(camera.visible_to, frozenset) and username in camera.visible_to
            ):
                allowed.add(key)
        return frozenset(allowed)

    def source_name(self, guid: str | None) -> str | None:
        """The name of a source: the camera's, or the user-defined event's."""
        if guid is None:
            return None
        camera = self.cameras.get(guid)
        if camera is not None:
            return camera.name
        event_type = self.types.get(guid)
        return event_type.name if event_type is not None else None

    def resolve_source(self, text: str) -> tuple[str, str]:
        """``(source, guid)`` for a trigger's source: ``cameras/<guid>``, ``<guid>`` or
        ``userDefinedEvents/<guid>`` of a known item [seed: "If the source device is camera
        the format can be cameras/{id} or simply {id}"]. The event stores the resource-path
        form, GUID in lower case [profile]. Unknown: 400 "Device not found. …" [sample].
        The answer is memoised, so every event of a source shares the same strings.
        """
        known = self._resolved.get(text)
        if known is None:
            known = self._resolve(text)
            if len(self._resolved) >= 65536:
                self._resolved.clear()
            self._resolved[text] = known
        return known

    def _resolve(self, text: str) -> tuple[str, str]:
        resource, _, raw = text.rpartition("/")
        guid = raw if raw in self.cameras or raw in self.types else canonical_guid(raw)
        if guid is None:
            raise Rejected(400, f"Invalid source. {text}")
        if resource in ("", "cameras") and guid in self.cameras:
            return self.cameras[guid].source, guid
        event_type = self.types.get(guid)
        if resource in ("", "userDefinedEvents") and event_type and event_type.is_user_defined:
            return f"userDefinedEvents/{guid}", guid
        raise Rejected(400, f"Device not found. {text}")  # [sample]

    def loose_source(self, source: object) -> tuple[str | None, str | None]:
        """Like :meth:`resolve_source` but unknown items are kept (bulk seeding)."""
        if source is None:
            return None, None
        text = str(source)
        try:
            return self.resolve_source(text)
        except Rejected:
            guid = canonical_guid(text.rpartition("/")[2])
            if guid is None:
                msg = f"source must be None, a GUID or '<resource>/<guid>': {text!r}"
                raise ValueError(msg) from None
            return text, guid
