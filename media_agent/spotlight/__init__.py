"""The spotlight engine: pure Python + numpy, no LiveKit. Fed frames and events, returns stage states."""

from media_agent.spotlight.config import EngineConfig
from media_agent.spotlight.engine import SpotlightEngine
from media_agent.spotlight.state import StageState

__all__ = ["EngineConfig", "SpotlightEngine", "StageState"]
