"""The web server: gunicorn serving ``create_app()``, configured by ``app/infra/gunicorn_conf.py``.

A gunicorn application of our own (gunicorn's documented way to embed it) rather than
``gunicorn "app:create_app()"``: gunicorn's command line changes to, and imports from, the current
folder, where a project's own ``app.py`` would be found first. This one imports the installed
package, whatever the folder. Run it as ``python_command("app.infra.web_server")`` (``app.infra.processes``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gunicorn.app.base import Application

#: gunicorn's settings file, read by path (importing it would load prometheus_client too early).
CONFIG_FILE = Path(__file__).with_name("gunicorn_conf.py")


class WebServer(Application):
    def init(self, parser: Any, opts: Any, args: Any) -> None:
        return None

    def load_config(self) -> None:
        self.load_config_from_file(str(CONFIG_FILE))

    def chdir(self) -> None:
        """Stay in the current folder and leave ``sys.path`` alone (see the module docstring)."""

    def load(self) -> Any:
        from app.factory import create_app

        return create_app()


def main() -> None:
    WebServer(prog="functionalscaffold web").run()


if __name__ == "__main__":
    main()
