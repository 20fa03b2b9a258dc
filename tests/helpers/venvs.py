"""A throwaway venv that sees .venv's packages, for really pip-installing plugins.

``python -m venv --without-pip`` makes an empty environment; a ``.pth`` file in
its site-packages adds .venv's site-packages as a site dir (so .venv's own .pth
files, the editable installs of authrules and the first-party plugins, work
there too). Plugins are then installed with .venv's pip into the throwaway
venv only (``pip --python``), offline and without build isolation, so .venv is
never changed and nothing is downloaded.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from .cli import clean_env


class ThrowawayVenv:
    def __init__(self, root: Path) -> None:
        self.root = root
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True,
                       capture_output=True, timeout=120)
        self.python = root / "bin" / "python"
        purelib = subprocess.run([str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        self.site_packages = Path(purelib)
        dev_site = sysconfig.get_path("purelib")  # .venv's site-packages: pytest runs in .venv
        (self.site_packages / "_authrules_dev_venv.pth").write_text(
            f"import site; site.addsitedir({dev_site!r})\n")

    def pip_install(self, *folders: Path) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.python), "install", "--no-deps",
             "--no-build-isolation", "--no-index", "--quiet", *(str(f) for f in folders)],
            capture_output=True, text=True, env=clean_env(), timeout=300)
        assert proc.returncode == 0, f"pip install failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def authrules(self) -> list[str]:
        """The command prefix that runs authrules in this venv."""
        return [str(self.python), "-m", "authrules"]
