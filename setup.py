"""Package layout (everything else is in pyproject.toml).

The host scripts live at the repository's top (plugin/) but ship inside the wheel as the package data of
`stereofoley.plugin`, so `pip install stereofoley` then `stereofoley install reaper|resolve|ardour` works without a
checkout (stereofoley.install.plugin_dir looks there first). pyproject.toml alone cannot map a package to a
folder outside the package tree, hence this file.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages("engine") + find_packages("adapters") + ["stereofoley.plugin"],
    package_dir={
        "stereofoley": "engine/stereofoley",
        "stereofoley_adapters": "adapters/stereofoley_adapters",
        "stereofoley.plugin": "plugin",
    },
)
