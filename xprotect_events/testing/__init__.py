"""The local XProtect Events API simulator (and, in ``plugin``, its pytest fixtures).

    from xprotect_events.testing import Simulator, Fault, seed

    async with Simulator() as sim:          # http://127.0.0.1:<free port>
        token = sim.issue_token("admin")
        ...

Seeded defaults (``xprotect_events.testing.seed`` has them all, with fixed GUIDs):

- basic users ``admin``/``admin`` (all sources) and ``operator``/``operator`` (cameras 1, 2);
- service client ``service`` / ``service-secret``;
- cameras :data:`CAMERA_IDS` ("Camera 1 - Main Entrance", "Camera 2 - Parking",
  "Camera 3 - Server Room", "Camera 4 - Loading Dock");
- event types: :data:`USER_DEFINED_EVENT` "Door Forced Open" and :data:`UNSTORED_EVENT`
  "Doorbell Pressed" (``External``; the second has retention 0: accepted, never stored);
  :data:`ANALYTICS_EVENT` "Person Detected", :data:`LICENSE_PLATE_EVENT` "License Plate
  Recognized", :data:`SHORT_RETENTION_EVENT` "Loitering Detected" (kept 60 s)
  (``MIPDevice``/``AnalyticsEvent``); :data:`GENERIC_EVENT` (``MIPDevice``/``Generic``:
  service tokens only); :data:`MOTION_STARTED`/:data:`MOTION_STOPPED` (``RecorderPlugin``,
  the real GUIDs: service tokens only).
"""

from . import seed
from .clock import SimClock
from .cors import CorsPolicy
from .faults import Fault, Faults
from .seed import (
    ANALYTICS_EVENT,
    CAMERA_IDS,
    GENERIC_EVENT,
    LICENSE_PLATE_EVENT,
    MOTION_STARTED,
    MOTION_STOPPED,
    SHORT_RETENTION_EVENT,
    UNSTORED_EVENT,
    USER_DEFINED_EVENT,
    SimCamera,
    SimEventType,
    SimUser,
)
from .simulator import Simulator
from .state import Stats

__all__ = [
    "ANALYTICS_EVENT",
    "CAMERA_IDS",
    "GENERIC_EVENT",
    "LICENSE_PLATE_EVENT",
    "MOTION_STARTED",
    "MOTION_STOPPED",
    "SHORT_RETENTION_EVENT",
    "UNSTORED_EVENT",
    "USER_DEFINED_EVENT",
    "CorsPolicy",
    "Fault",
    "Faults",
    "SimCamera",
    "SimClock",
    "SimEventType",
    "SimUser",
    "Simulator",
    "Stats",
    "seed",
]
