"""The configuration templates ship inside the package (ak_bridge/templates/config).

``config/`` at the top of the repository is the one copy in git (the template a deployment
edits); building a wheel copies it into the package, so an install outside the checkout can
validate, translate and run the demo with the shipped format mappings.
"""

from pathlib import Path
from shutil import copytree

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithTemplates(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install reads config/ from the checkout
            target = Path(self.build_lib) / "ak_bridge" / "templates" / "config"
            copytree(Path(__file__).parent / "config", target, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithTemplates})
