"""CTOPlaqueLib: Qt-free algorithms of the CTOPlaque Slicer extension.

Quantitative coronary CT angiography of chronic total occlusions after
Xing et al., Quant Imaging Med Surg 2022;12:3625. Everything here works on numpy
arrays plus an IJK->RAS matrix; the MRML layer (``mrml.py``) and the file layer
(``volume_io.py``, ``markups_io.py``) convert to and from those.
"""

__version__ = "0.1.0"
SOFTWARE_NAME = "CTOPlaque"
