"""Python packages the extension needs beyond what 3D Slicer bundles (numpy, SimpleITK, vtk).

pyproject.toml lists the same requirements (a test keeps the two equal); inside Slicer the module
installs the missing ones with slicer.util.pip_install after the user agrees.
"""

# requirement -> module it provides
RUNTIME_REQUIREMENTS = {
    "numpy>=1.24": "numpy",
    "scipy>=1.15": "scipy",
    "SimpleITK>=2.3": "SimpleITK",
    "matplotlib>=3.7": "matplotlib",
    "scikit-image>=0.21": "skimage",
    "pandas>=2.0": "pandas",
    "pydicom>=2.4": "pydicom",
    "highdicom>=0.22": "highdicom",
    "statsmodels>=0.14": "statsmodels",
    "tableone>=0.9": "tableone",
}


def missing_requirements() -> list:
    """Requirements whose module cannot be imported here (found without importing it)."""
    return [requirement for requirement, module in RUNTIME_REQUIREMENTS.items() if not _findable(module)]


def _findable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: in sys.modules without a spec (e.g. blocked as None)
        return False
