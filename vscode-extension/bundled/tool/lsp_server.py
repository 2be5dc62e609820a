"""Starts the Replay Lens server bundled in the extension (``bundled/libs``).

The extension runs it as ``python -I bundled/tool/lsp_server.py --stdio``: isolated mode keeps
the working directory, this script's folder, ``PYTHON*`` variables and the user's site-packages
off ``sys.path``, so no module of the workspace is ever imported. Only the bundled libraries for
this CPython version (``bundled/libs/cp3XY``, compiled for the .vsix's platform) are added.
"""

import os
import runpy
import sys

MINIMUM = (3, 11)
# Exit codes the extension turns into one clear message.
EXIT_TOO_OLD = 3
EXIT_NOT_BUNDLED = 4


def main() -> None:
    major, minor = sys.version_info[:2]
    if (major, minor) < MINIMUM:
        sys.stderr.write(f"Replay Lens needs Python 3.11 or newer; {sys.executable} is {major}.{minor}.\n")
        sys.exit(EXIT_TOO_OLD)
    bundled = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    libs = os.path.join(bundled, "libs", f"cp{major}{minor}")
    if not os.path.isdir(libs):
        names = sorted(name for name in os.listdir(os.path.join(bundled, "libs")) if name.startswith("cp"))
        available = ", ".join(f"{name[2]}.{name[3:]}" for name in names)
        sys.stderr.write(
            f"This Replay Lens package bundles the server for CPython {available}, not {major}.{minor}"
            f" ({sys.executable}). Set replayLens.importStrategy to fromEnvironment and install"
            " replay-lens in that interpreter.\n"
        )
        sys.exit(EXIT_NOT_BUNDLED)
    sys.path.insert(0, libs)
    runpy.run_module("server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
