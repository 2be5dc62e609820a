"""Live capture: a pytest plugin that records what the chat models of a test run received.

Projects keep fixtures (keys and outputs) without raw inputs, so their keys cannot be
recomputed. While their replay tests run, every model call's real input passes through
LangChain's callbacks: `pytest --replay-lens=capture` writes those calls as recordings
(SPEC §5) under `.replay-lens/captures/`, which `check` and the server link to the fixture
turns like any recording. `--replay-lens=record` also writes a fixture per scenario, with a
recording beside it that keeps the raw inputs. Off unless asked; LangChain is imported only
when it is on.
"""
