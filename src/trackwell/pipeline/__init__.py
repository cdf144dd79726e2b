"""The pipeline: accept() on the way in, and (later) the router on the way out."""

from trackwell.pipeline.accept import Accepted, accept, prepare

__all__ = ["Accepted", "accept", "prepare"]
