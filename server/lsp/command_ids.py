"""The ids of the commands the server registers, named by the lenses and actions of other features.

They are part of the protocol (docs/protocol.md): a lens names a command, the
feature that runs it registers it; neither imports the other.
"""

REHASH = "replayLens.rehash"
SHOW_NORMALIZED_INPUT = "replayLens.showNormalizedInput"
REPLAY_SESSION = "replayLens.replaySession"
RUN_REPLAY_TESTS = "replayLens.runReplayTests"
